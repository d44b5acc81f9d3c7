# Velocity state (ADR 0022): the cost of a compare-and-set update in the
# velocity KV bucket (one hot key or many, 1 or 8 writers, R1 and an
# in-process R3), of velocity.Enrich on it, and of the alternative
# (partitioned in-memory state, its per-event cost and its KV snapshot), in
# one run; VELOCITY_BENCH_COUNT rounds of -count=1 so that the variants
# interleave. Go benchmark format, with commit, machine, date and load, as
# bench-labels.
VELOCITY_BENCH_OUT ?= docs/bench/velocity-kv.txt
VELOCITY_BENCH_COUNT ?= 2
VELOCITY_BENCH_TIME ?= 10000x

.PHONY: bench-velocity

bench-velocity: ## velocity state: KV compare-and-set, Enrich, partitioned in-memory alternative, into VELOCITY_BENCH_OUT (docs/bench/velocity-kv.txt)
	@mkdir -p docs/bench
	@set -o pipefail; { \
	  echo "commit: $$(git rev-parse HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD -- worker scorer contracts internal 2>/dev/null || echo ' (dirty: worker, scorer, contracts or internal)')"; \
	  echo "date: $$(date -u +%FT%TZ)"; \
	  echo "host: $$(hostname), $$(nproc) cores, $$(uname -sr)"; \
	  echo "command: $(VELOCITY_BENCH_COUNT) rounds of go test -run '^$$' -bench BenchmarkVelocity -benchtime=$(VELOCITY_BENCH_TIME) -count=1 ./worker/"; \
	  echo "loadavg-start: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  for i in $$(seq $(VELOCITY_BENCH_COUNT)); do \
	    $(GO) test -run '^$$' -bench BenchmarkVelocity -benchtime=$(VELOCITY_BENCH_TIME) -count=1 ./worker/ || exit 1; \
	  done; \
	  echo "loadavg-end: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	} | tee $(VELOCITY_BENCH_OUT)
