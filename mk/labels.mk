# Label join (ADR 0020): how fast one worker fills the verdict index from a
# pre-filled VERDICTS stream, one put at a time and with the default
# FRAUDSCORE_VERDICT_INDEX_CONCURRENCY, in one run; LABELS_BENCH_COUNT rounds
# of -count=1 so that the variants interleave. Go benchmark format, with
# commit, machine, date and load, as bench-rules.
LABELS_BENCH_OUT ?= docs/bench/labels-index.txt
LABELS_BENCH_COUNT ?= 3

.PHONY: bench-labels

bench-labels: ## label join: verdict index fill rate, concurrency 1 and default, into LABELS_BENCH_OUT (docs/bench/labels-index.txt)
	@mkdir -p docs/bench
	@set -o pipefail; { \
	  echo "commit: $$(git rev-parse HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD -- 2>/dev/null || echo ' (dirty)')"; \
	  echo "date: $$(date -u +%FT%TZ)"; \
	  echo "host: $$(hostname), $$(nproc) cores, $$(uname -sr)"; \
	  echo "command: $(LABELS_BENCH_COUNT) rounds of go test -run '^$$' -bench BenchmarkVerdictIndex -benchtime=20000x -count=1 ./worker/"; \
	  echo "loadavg-start: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	  for i in $$(seq $(LABELS_BENCH_COUNT)); do \
	    $(GO) test -run '^$$' -bench BenchmarkVerdictIndex -benchtime=20000x -count=1 ./worker/ || exit 1; \
	  done; \
	  echo "loadavg-end: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	} | tee $(LABELS_BENCH_OUT)
