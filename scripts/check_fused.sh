#!/usr/bin/env bash
# check_fused.sh: fails when the compiler fuses a multiply and an add (FMA) anywhere in the code of
# packages augment (a sample's pixels) and sampler (epoch plans), as it may for arm64, or for amd64
# at GOAMD64=v3. A fused operation rounds once where the code says twice, so a sample's crop or
# weights, or a weighted plan's draws, would depend on the machine; an explicit float64(...) around
# a product forbids the fusion. `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
status=0
# check PKG LABEL PATTERN ENV...: compile ./PKG with an assembly listing under ENV and grep it.
check() {
	local pkg=$1 label=$2 pattern=$3 listing fused
	shift 3
	if ! listing=$(env "$@" CGO_ENABLED=0 "$GO" build -gcflags="github.com/facestream/facestream/$pkg=-S" -o /dev/null "./$pkg" 2>&1); then
		echo "check_fused: the $label build of $pkg failed:" >&2
		head -20 <<<"$listing" >&2
		exit 2
	fi
	if ! grep -q STEXT <<<"$listing"; then
		echo "check_fused: the $label build of $pkg printed no assembly listing:" >&2
		head -5 <<<"$listing" >&2
		exit 2
	fi
	fused=$(grep -E "$pattern" <<<"$listing" | grep -oE "$pkg/[a-z0-9_]+\.go:[0-9]+" | sort -u || true)
	if [[ -n $fused ]]; then
		echo "check_fused: fused multiply-adds in the $label build of $pkg, at:" >&2
		echo "$fused" >&2
		status=1
	fi
}
for pkg in augment sampler; do
	check "$pkg" arm64 '[[:space:]]F(N)?M(ADD|SUB)[DS][[:space:]]' GOARCH=arm64
	check "$pkg" "amd64 GOAMD64=v3" '[[:space:]]VFN?M(ADD|SUB)[0-9]+S[SD][[:space:]]' GOAMD64=v3
done
exit $status
