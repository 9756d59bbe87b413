#!/usr/bin/env bash
# The node test: apache-arrow reads a live server's stream. Starts the server through
# python/with_server.sh (builds the binary unless $BIN names one) and runs `node --test`.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/apache-arrow ] || npm install --silent --no-audit --no-fund
exec ../../python/with_server.sh node --test tests/node/stream.test.mjs
