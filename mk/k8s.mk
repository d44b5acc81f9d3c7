# A real Kubernetes control plane for the manifests (docs/deploy.md, "A real
# API server: make k8s-verify"). tools/k8s is its own Go module, so the main
# module never depends on Kubernetes; its first build compiles
# kube-apiserver and etcd (many minutes), later ones come from Go's build
# cache. The build and run times go to docs/bench/k8s-verify.json, with the
# size of the build cache before the build (0 or near it: a cold build; run
# `make k8s-verify GOCACHE=$(mktemp -d)` to measure one).
# -vet=off: `go test -c` would otherwise vet every Kubernetes package it
# links (vet facts), minutes of work that says nothing about our code; vet
# tools/k8s itself with `cd tools/k8s && go vet ./...`.
K8S_VERIFY_TEST := $(BIN)/k8s-verify.test
K8S_VERIFY_OUT := docs/bench/k8s-verify.json

.PHONY: k8s-verify

k8s-verify: ## server-side apply every overlay and component combination to a real kube-apiserver + etcd on 127.0.0.1 (tools/k8s)
	@command -v kubectl >/dev/null || { echo "k8s-verify: needs kubectl (Debian package kubectl)"; exit 1; }
	@mkdir -p $(BIN) docs/bench; cache=$$($(GO) env GOCACHE); \
	  before=$$(du -sb "$$cache" 2>/dev/null | cut -f1); t0=$$(date +%s); load=$$(cut -d' ' -f1 /proc/loadavg); \
	  (cd tools/k8s && $(GO) test -c -vet=off -o ../../$(K8S_VERIFY_TEST) ./verify) || exit 1; \
	  t1=$$(date +%s); echo "k8s-verify: build $$((t1-t0)) s (Go's build cache keeps it for the next run)"; \
	  (cd tools/k8s/verify && ../../../$(K8S_VERIFY_TEST) -test.v -test.count=1 -test.timeout=15m); rc=$$?; \
	  t2=$$(date +%s); echo "k8s-verify: run $$((t2-t1)) s, total $$((t2-t0)) s"; \
	  printf '{\n  "commit": "%s",\n  "date": "%s",\n  "host": "%s",\n  "nproc": %s,\n  "load_avg_1m_at_start": "%s",\n  "go_version": "%s",\n  "command": "make k8s-verify",\n  "gocache_bytes_before": %s,\n  "build_seconds": %s,\n  "run_seconds": %s,\n  "passed": %s\n}\n' \
	    "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" "$$(date -u +%FT%TZ)" "$$(hostname)" "$$(nproc)" \
	    "$$load" "$$($(GO) env GOVERSION)" "$${before:-0}" "$$((t1-t0))" "$$((t2-t1))" \
	    "$$([ $$rc = 0 ] && echo true || echo false)" > $(K8S_VERIFY_OUT); \
	  echo "k8s-verify: times in $(K8S_VERIFY_OUT)"; exit $$rc

# The scaling chain on a real backlog (docs/deploy.md, "Scaling on a real
# backlog: make k8s-e2e"); not in CI (see there). KEDA's operator and metrics
# adapter are built from the KEDA module as the main module (its own replace
# directives apply), in a copy of the module under K8S_E2E_CACHE, once per
# KEDA version; kube-controller-manager from tools/k8s (a tool of its
# go.mod), nats-server and the backlog helper from tools/k8s/backlog (a
# module of its own: nats.go and Kubernetes want different golang.org/x/sys).
# Every build runs under nice -n 19. Results go to docs/bench/k8s-e2e.json.
K8S_E2E_CACHE ?= $(HOME)/.cache/fraudscore-k8s-e2e
K8S_KEDA_VERSION := $(shell sed -n 's/^[[:space:]]*KEDAVersion[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' tools/k8s/crds/crds.go)
K8S_KEDA_BIN := $(K8S_E2E_CACHE)/keda-$(K8S_KEDA_VERSION)/bin
K8S_E2E_BIN := $(BIN)/k8s-e2e
K8S_E2E_OUT ?= docs/bench/k8s-e2e.json
# Build cache of the KEDA build only (default: Go's); an empty one with an
# empty K8S_E2E_CACHE measures KEDA's cold build, e.g.
# make k8s-e2e K8S_E2E_CACHE=$(mktemp -d) K8S_KEDA_GOCACHE=$(mktemp -d) K8S_E2E_OUT=docs/bench/k8s-e2e-cold.json
K8S_KEDA_GOCACHE ?=

.PHONY: k8s-e2e

k8s-e2e: ## KEDA + kube-controller-manager scale the prod Deployment on a real JetStream backlog, no pods (tools/k8s/e2e; builds KEDA once)
	@command -v kubectl >/dev/null || { echo "k8s-e2e: needs kubectl (Debian package kubectl)"; exit 1; }
	@command -v ip >/dev/null || { echo "k8s-e2e: needs ip (Debian package iproute2)"; exit 1; }
	@[ -n "$(K8S_KEDA_VERSION)" ] || { echo "k8s-e2e: no KEDAVersion in tools/k8s/crds/crds.go"; exit 1; }
	@mkdir -p $(K8S_E2E_BIN) docs/bench; root=$$(pwd); load=$$(cut -d' ' -f1 /proc/loadavg); t0=$$(date +%s); \
	  keda_cached=true; keda_cache_before=null; \
	  if [ ! -x "$(K8S_KEDA_BIN)/operator" ] || [ ! -x "$(K8S_KEDA_BIN)/adapter" ]; then \
	    keda_cached=false; \
	    dir=$$(cd /tmp && GOFLAGS= $(GO) mod download -json github.com/kedacore/keda/v2@$(K8S_KEDA_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	    [ -d "$$dir" ] || { echo "k8s-e2e: go mod download github.com/kedacore/keda/v2@$(K8S_KEDA_VERSION) failed"; exit 1; }; \
	    src=$(K8S_E2E_CACHE)/keda-$(K8S_KEDA_VERSION)/src; rm -rf "$$src"; mkdir -p "$$src" $(K8S_KEDA_BIN); \
	    cp -r "$$dir"/. "$$src" && chmod -R u+w "$$src" || exit 1; \
	    echo "k8s-e2e: building KEDA $(K8S_KEDA_VERSION) operator and adapter in $$src (once; a cold build takes long)"; \
	    kcache=$(or $(K8S_KEDA_GOCACHE),$$($(GO) env GOCACHE)); keda_cache_before=$$(du -sb "$$kcache" 2>/dev/null | cut -f1); \
	    (cd "$$src" && GOCACHE=$$kcache GOFLAGS=-buildvcs=false nice -n 19 $(GO) build -o $(K8S_KEDA_BIN)/ ./cmd/operator ./cmd/adapter) || exit 1; \
	  fi; \
	  t1=$$(date +%s); \
	  (cd tools/k8s && nice -n 19 $(GO) build -o $$root/$(K8S_E2E_BIN)/kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager) || exit 1; \
	  (cd tools/k8s/backlog && nice -n 19 $(GO) build -o $$root/$(K8S_E2E_BIN)/ github.com/nats-io/nats-server/v2 ./cmd/backlog) || exit 1; \
	  (cd tools/k8s && nice -n 19 $(GO) test -c -vet=off -o $$root/$(K8S_E2E_BIN)/k8s-e2e.test ./e2e) || exit 1; \
	  t2=$$(date +%s); echo "k8s-e2e: KEDA build $$((t1-t0)) s (cached: $$keda_cached), other builds $$((t2-t1)) s"; \
	  rm -f $(K8S_E2E_BIN)/result.json; \
	  (cd tools/k8s/e2e && K8S_E2E_KEDA_OPERATOR=$(K8S_KEDA_BIN)/operator K8S_E2E_KEDA_ADAPTER=$(K8S_KEDA_BIN)/adapter \
	    K8S_E2E_KUBE_CONTROLLER_MANAGER=$$root/$(K8S_E2E_BIN)/kube-controller-manager \
	    K8S_E2E_NATS_SERVER=$$root/$(K8S_E2E_BIN)/nats-server K8S_E2E_BACKLOG=$$root/$(K8S_E2E_BIN)/backlog \
	    K8S_E2E_RESULT=$$root/$(K8S_E2E_BIN)/result.json \
	    $$root/$(K8S_E2E_BIN)/k8s-e2e.test -test.v -test.count=1 -test.timeout=20m); rc=$$?; \
	  t3=$$(date +%s); echo "k8s-e2e: run $$((t3-t2)) s, total $$((t3-t0)) s"; \
	  scenario=$$(cat $(K8S_E2E_BIN)/result.json 2>/dev/null || echo null); \
	  printf '{\n  "commit": "%s",\n  "date": "%s",\n  "host": "%s",\n  "nproc": %s,\n  "load_avg_1m_at_start": "%s",\n  "go_version": "%s",\n  "command": "make k8s-e2e",\n  "keda_version": "%s",\n  "keda_binaries_cached": %s,\n  "keda_gocache_bytes_before": %s,\n  "keda_build_seconds": %s,\n  "build_seconds": %s,\n  "run_seconds": %s,\n  "passed": %s,\n  "scenario": %s\n}\n' \
	    "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" "$$(date -u +%FT%TZ)" "$$(hostname)" "$$(nproc)" \
	    "$$load" "$$($(GO) env GOVERSION)" "$(K8S_KEDA_VERSION)" "$$keda_cached" "$${keda_cache_before:-0}" "$$((t1-t0))" "$$((t2-t1))" "$$((t3-t2))" \
	    "$$([ $$rc = 0 ] && echo true || echo false)" "$$scenario" > $(K8S_E2E_BIN)/k8s-e2e.json; \
	  if command -v jq >/dev/null; then jq . $(K8S_E2E_BIN)/k8s-e2e.json > $(K8S_E2E_OUT); else cp $(K8S_E2E_BIN)/k8s-e2e.json $(K8S_E2E_OUT); fi; \
	  echo "k8s-e2e: results in $(K8S_E2E_OUT)"; exit $$rc
