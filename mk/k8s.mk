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
