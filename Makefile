# facestream: `make demo` runs the main job from nothing; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/facestream
PY := /usr/bin/python3
ORT_LIB = $(CURDIR)/.cache/onnxruntime/libonnxruntime.so.1.24.3
export ONNXRUNTIME_SHARED_LIBRARY_PATH ?= $(ORT_LIB)

.PHONY: setup build test demo bench static clean

setup:
	@bash scripts/setup.sh >/dev/null

build: setup
	$(GO) build -o $(BIN) ./cmd/facestream

test: build
	$(GO) vet ./...
	$(GO) test -count=1 ./...

demo: build
	bash scripts/demo.sh

bench: build
	FACESTREAM_BIN=$(CURDIR)/$(BIN) bash bench/peer/run_peers.sh

clean:
	rm -rf bin demo
