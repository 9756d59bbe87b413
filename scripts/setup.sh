#!/usr/bin/env bash
# Installs what facestream's build, tests and demo need on a fresh Debian 12 machine. Idempotent:
# a second run checks and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.24.3
ORT_DIR=.cache/onnxruntime
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"
APT_PACKAGES=(libturbojpeg0-dev libjpeg-turbo-progs python3-torch python3-torchvision python3-numpy python3-pil chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime is not packaged by Debian; the npm package onnxruntime-node ships the shared library.
if [ ! -f "$ORT_LIB" ]; then
	echo "setup: fetching ONNX Runtime $ORT_VERSION (npm onnxruntime-node)" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
	tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mkdir -p "$ORT_DIR"
	cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.tmp"
	mv "$ORT_LIB.tmp" "$ORT_LIB"
fi

# The node test reads a live stream with the independent apache-arrow reader.
if [ -f tests/node/package.json ] && [ ! -d tests/node/node_modules/apache-arrow ]; then
	echo "setup: installing node test packages" >&2
	(cd tests/node && npm install --silent --no-audit --no-fund >/dev/null)
fi
echo "$ORT_LIB"
