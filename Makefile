# facestream: `make demo` runs the main job from nothing; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/facestream
PY := /usr/bin/python3
ORT_LIB = $(CURDIR)/.cache/onnxruntime/libonnxruntime.so.1.24.3
export ONNXRUNTIME_SHARED_LIBRARY_PATH ?= $(ORT_LIB)

.PHONY: setup build test demo bench bench-augment static experiment clean reliability

setup:
	@bash scripts/setup.sh >/dev/null

build: setup
	$(GO) build -o $(BIN) ./cmd/facestream

# Every test runs once as built for use, and the concurrent packages' tests once more under the
# race detector, where a few heavy tests whose subject is not concurrent skip (internal/racedetect).
RACE_PKGS := ./loader/... ./sampler/... ./offline/... ./bench/... ./objstore/...
test: build
	$(GO) vet ./...
	GO=$(GO) bash scripts/check_fused.sh
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	# the portable build: Go's JPEG decoder and the SWAR kernels, no cgo and no assembly
	$(GO) test -count=1 -tags purego,facestream_purego ./augment/...
	BIN=$(CURDIR)/$(BIN) bash python/run_tests.sh
	BIN=$(CURDIR)/$(BIN) bash tests/node/run.sh

demo: build
	bash scripts/demo.sh

bench: build
	FACESTREAM_BIN=$(CURDIR)/$(BIN) bash bench/peer/run_peers.sh

# The image pipeline alone: decode + `face` against tjbench's decode (at the scale facestream
# decodes at) and torchvision, as JSON, on synthetic and real 112×112 faces and 250×250 and
# 500×500 photos (bench/peer/augment_compare.sh).
bench-augment: build
	FACESTREAM=$(CURDIR)/$(BIN) bash bench/peer/augment_compare.sh

# Does it train better? The same network and budget on raw, raw-balanced, cleaned, equalized and
# no-S3 data, 3 seeds each, on synth and (when ../shared has it) lfw-ak: experiment/{synth,lfw}/report.html.
EXPERIMENT = $(PY) examples/experiment.py --budget 10240 --seeds 0,1,2
experiment: build
	$(EXPERIMENT) --preset synth --out experiment/synth
	$(EXPERIMENT) --preset lfw --out experiment/lfw

# A fully static binary (TurboJPEG linked in) for machines without Go, such as the GPU benchmark host.
# It serves, imports and benchmarks; it cannot load ONNX Runtime (glibc cannot dlopen into a static
# process), so its offline stages refuse with an error: use deploy/Dockerfile there.
static: setup
	CGO_ENABLED=1 $(GO) build -tags netgo,osusergo,facestream_static -ldflags '-s -w -extldflags -static' -o bin/facestream-static ./cmd/facestream

# The fault and bad-input campaign (tests/reliability/README.md): loopback only, about
# a minute on 2 cores, capped at 10; one line per check, non-zero exit if any failed. Not in `make test`.
reliability: build
	$(GO) build -o bin/reliability ./tests/reliability
	timeout --kill-after=10 600 bin/reliability --bin $(BIN) $(RELIABILITY_FLAGS)

clean:
	rm -rf bin demo
