# Analyst rules (ADR 0016): micro-benchmarks of a 50-rule set alone (the
# cost per rule and the allocations) and of Lifecycle.Score without rules
# and with them, in one run; RULES_BENCH_COUNT rounds of -count=1, so that the
# variants interleave and a change of machine load hits them alike.
# Go benchmark format, with commit, machine, date and load, as bench-micro.
RULES_BENCH_OUT ?= docs/bench/rules.txt
RULES_BENCH_COUNT ?= 5

.PHONY: bench-rules

bench-rules: ## analyst rules: 50 typical rules alone and Score with/without them into RULES_BENCH_OUT (docs/bench/rules.txt)
	@mkdir -p docs/bench
	@set -o pipefail; { \
	  echo "commit: $$(git rev-parse HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD -- 2>/dev/null || echo ' (dirty)')"; \
	  echo "date: $$(date -u +%FT%TZ)"; \
	  echo "host: $$(hostname), $$(nproc) cores, $$(uname -sr)"; \
	  echo "command: $(RULES_BENCH_COUNT) rounds of go test -run '^$$' -bench 'Evaluate50|ScoreRules' -benchmem -benchtime=1s -count=1 ./scorer/rules/ ./scorer/lifecycle/"; \
	  echo "loadavg-start: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  for i in $$(seq $(RULES_BENCH_COUNT)); do \
	    $(GO) test -run '^$$' -bench 'Evaluate50|ScoreRules' -benchmem -benchtime=1s -count=1 ./scorer/rules/ ./scorer/lifecycle/ || exit 1; \
	  done; \
	  echo "loadavg-end: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	} | tee $(RULES_BENCH_OUT)
