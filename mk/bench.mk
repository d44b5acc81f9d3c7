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

.PHONY: bench bench-quick bench-tools bench-micro

bench-tools: build ## build bin/natsserver, bin/bench, bin/loadtest and natscli (for nats bench)
	$(GO) build -o $(BIN)/natsserver ./cmd/natsserver
	$(GO) build -o $(BIN)/bench ./cmd/bench
	$(GO) build -o $(BIN)/loadtest ./cmd/loadtest
	@test -x $(BIN)/nats || GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

bench-micro: ## Go micro-benchmarks (scorer, contracts) into docs/bench/micro.txt
	@mkdir -p docs/bench
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(MICRO_BENCHTIME) ./scorer/... ./contracts/... | tee docs/bench/micro.txt

bench: bench-tools ## micro-benchmarks and every end-to-end scenario (about 8 minutes)
	$(MAKE) --no-print-directory bench-micro
	./$(BIN)/bench -nats $(BIN)/nats -out docs/bench/latest $(BENCH_FLAGS)

bench-quick: bench-tools ## short micro-benchmarks and the quick end-to-end plan (under 2 minutes)
	$(MAKE) --no-print-directory bench-micro MICRO_BENCHTIME=100ms
	./$(BIN)/bench -quick -nats $(BIN)/nats -out docs/bench/quick $(BENCH_FLAGS)
