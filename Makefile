# fraudscore: make run | make test (see README.md). Other targets: help.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN := bin
# FUZZTIME empty: each target runs its own execution count (FUZZ_TARGETS),
# about ten seconds on a loaded 2-core machine. A count, unlike a duration,
# has no wall-clock deadline, which in go1.26 can race the fuzz workers'
# shutdown and fail a target with a bare "context deadline exceeded" and no
# input (golang/go#75804, fixed in go1.27). FUZZTIME=2m explores longer.
FUZZTIME ?=

.PHONY: help run build test vet lint fuzz train bench clean

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/fraudscore (static, trimmed, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/fraudscore ./cmd/fraudscore

run: build ## run a worker with an embedded JetStream server, the bundled model and a demo stream
	FRAUDSCORE_EMBEDDED=true FRAUDSCORE_LABELS=true FRAUDSCORE_ARCHIVE=true FRAUDSCORE_VELOCITY=kv FRAUDSCORE_HTTP_ADDR=127.0.0.1:8090 FRAUDSCORE_MODEL_DIR=models \
	FRAUDSCORE_DEMO_RATE=$${FRAUDSCORE_DEMO_RATE:-200} FRAUDSCORE_PROGRESS_INTERVAL=$${FRAUDSCORE_PROGRESS_INTERVAL:-5s} ./$(BIN)/fraudscore worker

vet: ## go vet
	$(GO) vet ./...

test: vet ## vet and staticcheck, then every test with the race detector, then a short fuzz run
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz: ## short bounded fuzz runs of decoders and model loaders (per-target counts; FUZZTIME=30s for a duration)
	@set -e; for spec in $(FUZZ_TARGETS); do \
	  pkg=$${spec%%:*}; rest=$${spec#*:}; fn=$${rest%%:*}; t="$(FUZZTIME)"; [ -n "$$t" ] || t=$${rest##*:}x; \
	  echo "fuzz $$pkg $$fn ($$t)"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$$t $$pkg; \
	done

train: ## train a new model version from synthetic data with XGBoost (installs it when missing)
	@/usr/bin/python3 -c 'import xgboost' 2>/dev/null || { echo "installing python3-xgboost"; \
	  sudo -n true 2>/dev/null && SUDO=sudo; $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq python3-xgboost; }
	$(GO) run ./cmd/fraudscore model train -dir models $(TRAIN_FLAGS)

clean: ## remove build output and the embedded server's store
	rm -rf $(BIN) .data

FUZZ_TARGETS := ./contracts:FuzzDecodeEvent:100000 ./contracts:FuzzDecodeEventDifferential:20000 ./contracts:FuzzRedactPANs:50000 ./contracts:FuzzDecodeLabel:80000 ./scorer/features:FuzzExtract:70000 ./scorer/model:FuzzLoadLightGBM:20000 ./scorer/model:FuzzLoadXGBoostJSON:25000 ./scorer/model:FuzzContributions:3000 ./scorer/velocity:FuzzDecodeState:20000

-include mk/*.mk
