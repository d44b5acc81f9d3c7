# Fault injection and soak (chaos/, docs/reliability.md, ADR 0011): real
# nats-server and worker processes on 127.0.0.1. `go test ./...` runs the
# bounded CI version of the fault suite; these targets run the big ones.
CHAOS_FLAGS ?=
SOAK ?= 10m
SOAK_RATE ?= 2000
CHAOS_REPORT ?= docs/chaos

.PHONY: chaos chaos-ci chaos-velocity soak

chaos: ## full fault-injection suite: SIGKILL, SIGSTOP, server restart, cluster leader loss, garbage, tampered model, stream outages; results JSON and its markdown in docs/chaos/
	FRAUDSCORE_CHAOS=full FRAUDSCORE_CHAOS_REPORT=$(CHAOS_REPORT) $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 30m ./chaos/ $(CHAOS_FLAGS)

chaos-ci: ## the bounded fault suite that go test ./... runs (velocity's correctness test at 4,000 transactions included), with the checks that show a fault or a verdict gone missing fails
	$(GO) test -count=1 -run '^(TestChaos|TestProcessFaultChecksFail|TestFaultChecksFailWithoutFault|TestVelocityExact|TestVelocityChecksFail)$$' -v -timeout 15m ./chaos/ $(CHAOS_FLAGS)

# CHAOS_VELOCITY_STORAGE=memory runs it with the bucket in memory
# (FRAUDSCORE_VELOCITY_STORAGE); its results carry a -memory suffix. Unset,
# the worker's default storage, and no suffix.
CHAOS_VELOCITY_STORAGE ?=
chaos-velocity: ## issue 13's velocity correctness test at full size (20,000 transactions, 2 workers, a SIGKILL, duplicates; every verdict's velocity checked by brute force); results docs/chaos/velocity-<date>-full.json, the test log beside it (written there at the end, so the run's commit is not dirty from it)
	@set -o pipefail; mkdir -p $(CHAOS_REPORT); log=$$(mktemp); \
	suffix="$(if $(CHAOS_VELOCITY_STORAGE),-$(CHAOS_VELOCITY_STORAGE))"; \
	FRAUDSCORE_CHAOS=full FRAUDSCORE_CHAOS_VELOCITY_STORAGE=$(CHAOS_VELOCITY_STORAGE) FRAUDSCORE_CHAOS_REPORT=$(CHAOS_REPORT) $(GO) test -race -count=1 -run '^TestVelocityExact$$' -v -timeout 30m ./chaos/ $(CHAOS_FLAGS) \
	  2>&1 | tee $$log; rc=$$?; mv $$log $(CHAOS_REPORT)/velocity-$$(date -u +%F)-full$$suffix.log; exit $$rc

soak: ## soak: SOAK=10m at SOAK_RATE=2000/s, RSS and goroutines sampled every 10s; raw samples docs/soak/<date>.json, report rendered from them docs/soak/<date>.md
	FRAUDSCORE_SOAK=$(SOAK) FRAUDSCORE_SOAK_RATE=$(SOAK_RATE) FRAUDSCORE_SOAK_REPORT=docs/soak \
	  $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 40m ./chaos/

# The metadata fuzz target joins make fuzz (and so make test).
FUZZ_TARGETS += ./scorer/modelstore:FuzzReadMetadata:20
