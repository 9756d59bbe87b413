#!/usr/bin/env bash
# The Python client's tests (unittest; ends with unittest's "OK" or "FAILED" line):
# the server-free ones, then the live ones against a server that with_server.sh builds
# (unless $BIN names a binary), fills with a small synthetic set, serves and stops.
# Uses Debian's /usr/bin/python3 (python3-torch, python3-numpy) unless $PY says otherwise.
set -euo pipefail
cd "$(dirname "$0")"
export PY="${PY:-/usr/bin/python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec ./with_server.sh "$PY" -m unittest discover -s python/tests -t python -v
