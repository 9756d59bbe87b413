#!/usr/bin/env bash
# check_fused.sh: fails when the compiler fuses a multiply and an add (FMA) anywhere in package
# augment's own code, as it may for arm64, or for amd64 at GOAMD64=v3. A fused operation rounds
# once where the code says twice, so a sample's crop or weights, and with them its bytes, would
# depend on the machine; an explicit float64(...) around a product forbids the fusion.
# `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
status=0
# check LABEL PATTERN ENV...: compile ./augment with an assembly listing under ENV and grep it.
check() {
	local label=$1 pattern=$2 listing fused
	shift 2
	if ! listing=$(env "$@" CGO_ENABLED=0 "$GO" build -gcflags=github.com/facestream/facestream/augment=-S -o /dev/null ./augment 2>&1); then
		echo "check_fused: the $label build failed:" >&2
		head -20 <<<"$listing" >&2
		exit 2
	fi
	if ! grep -q STEXT <<<"$listing"; then
		echo "check_fused: the $label build printed no assembly listing:" >&2
		head -5 <<<"$listing" >&2
		exit 2
	fi
	fused=$(grep -E "$pattern" <<<"$listing" | grep -oE "augment/[a-z0-9_]+\.go:[0-9]+" | sort -u || true)
	if [[ -n $fused ]]; then
		echo "check_fused: fused multiply-adds in the $label build of augment, at:" >&2
		echo "$fused" >&2
		status=1
	fi
}
check arm64 '[[:space:]]F(N)?M(ADD|SUB)[DS][[:space:]]' GOARCH=arm64
check "amd64 GOAMD64=v3" '[[:space:]]VFN?M(ADD|SUB)[0-9]+S[SD][[:space:]]' GOAMD64=v3
exit $status
