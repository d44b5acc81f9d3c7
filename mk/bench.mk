# Benchmarks: Go micro-benchmarks of the scoring core and contracts, then the
# end-to-end scenarios (loadtest/bench): standalone nats-server and worker
# processes on this machine, natscli's `nats bench js` (transport), `nats bench
# service` (request-reply) and the worker's pass-through mode as baselines
# measured in the same run; integrity checked from what the streams stored.
# Results: docs/bench/latest.json (with commit, machine, load averages and the
# ratios to the baselines) and latest.md, rendered from the JSON.
# Re-render a committed JSON: ./bin/bench -render docs/bench/latest.json
NATSCLI_VERSION ?= v0.5.0
BENCH_FLAGS ?=
MICRO_BENCHTIME ?= 1s
MICRO_COUNT ?= 5
MICRO_OUT ?= docs/bench/micro.txt
MICRO_PKGS ?= ./scorer/... ./contracts/... ./worker/tracing/
MICRO_BENCH ?= .

.PHONY: bench bench-quick bench-tools bench-micro bench-lifecycle bench-tracing bench-archive bench-velocity-e2e

bench-tools: build ## build bin/natsserver, bin/bench, bin/loadtest and natscli (for nats bench)
	$(GO) build -o $(BIN)/natsserver ./cmd/natsserver
	$(GO) build -o $(BIN)/bench ./cmd/bench
	$(GO) build -o $(BIN)/loadtest ./cmd/loadtest
	@test -x $(BIN)/nats || GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

# micro.txt is Go benchmark format: the key: value lines before the results
# (commit, date, machine, load average) are configuration lines that
# benchstat and internal/figures read past.
bench-micro: ## Go micro-benchmarks (scorer, contracts, worker/tracing; MICRO_PKGS, MICRO_BENCH select) into MICRO_OUT (docs/bench/micro.txt), with commit, machine, date and load
	@mkdir -p docs/bench
	@set -o pipefail; { \
	  echo "commit: $$(git rev-parse HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD -- 2>/dev/null || echo ' (dirty)')"; \
	  echo "date: $$(date -u +%FT%TZ)"; \
	  echo "host: $$(hostname), $$(nproc) cores, $$(uname -sr)"; \
	  echo "command: go test -run '^$$' -bench '$(MICRO_BENCH)' -benchmem -benchtime=$(MICRO_BENCHTIME) -count=$(MICRO_COUNT) $(MICRO_PKGS)"; \
	  echo "loadavg-start: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  $(GO) test -run '^$$' -bench '$(MICRO_BENCH)' -benchmem -benchtime=$(MICRO_BENCHTIME) -count=$(MICRO_COUNT) $(MICRO_PKGS); \
	  echo "loadavg-end: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	} | tee $(MICRO_OUT)

bench: bench-tools ## micro-benchmarks and every end-to-end scenario (about 8 minutes)
	$(MAKE) --no-print-directory bench-micro
	./$(BIN)/bench -nats $(BIN)/nats -out docs/bench/latest $(BENCH_FLAGS)

bench-quick: bench-tools ## short micro-benchmarks and the quick end-to-end plan (under 2 minutes)
	$(MAKE) --no-print-directory bench-micro MICRO_BENCHTIME=100ms MICRO_COUNT=1 MICRO_OUT=docs/bench/micro-quick.txt
	./$(BIN)/bench -quick -nats $(BIN)/nats -out docs/bench/quick $(BENCH_FLAGS)

LIFECYCLE_ROUNDS ?= 5

bench-lifecycle: bench-tools ## the backlog with and without a challenger in shadow, reason codes and 50 analyst rules, LIFECYCLE_ROUNDS interleaved rounds (median ratios) into docs/bench/lifecycle
	./$(BIN)/bench -only "fraudscore backlog" -rounds $(LIFECYCLE_ROUNDS) -timeout 40m -out docs/bench/lifecycle $(BENCH_FLAGS)

# The cost of trace context and span export per message (docs/performance.md).
bench-tracing: ## trace-context and span-export micro-benchmarks into docs/bench/micro-tracing.txt
	$(MAKE) --no-print-directory bench-micro MICRO_PKGS='./contracts/ ./worker/tracing/' MICRO_BENCH='Traceparent|Message' MICRO_OUT=docs/bench/micro-tracing.txt

# The optional features that cost NATS work per transaction, each against the
# same traffic with the feature off, FEATURE_ROUNDS interleaved rounds
# (median ratios, every round kept in the JSON): the transaction archive
# (ADR 0021) against the plain backlog, and velocity in a KV bucket (issue 13:
# backlog throughput, p99 at 2,000 tx/s, the NATS server's CPU per verdict),
# with a new card per event and with population traffic.
FEATURE_ROUNDS ?= 3

bench-archive: bench-tools ## FRAUDSCORE_ARCHIVE=true against off, backlog throughput, FEATURE_ROUNDS rounds, into docs/bench/archive
	./$(BIN)/bench -only "=fraudscore backlog|=fraudscore backlog, archive" -rounds $(FEATURE_ROUNDS) -timeout 40m -out docs/bench/archive $(BENCH_FLAGS)

bench-velocity-e2e: bench-tools ## FRAUDSCORE_VELOCITY=kv (bucket on file, and in memory) against off: backlog, p99 at 2k/s, server CPU, random and population traffic, FEATURE_ROUNDS rounds, into docs/bench/velocity
	./$(BIN)/bench -only "velocity" -rounds $(FEATURE_ROUNDS) -timeout 60m -out docs/bench/velocity $(BENCH_FLAGS)
