# Supply chain (docs/security.md "Supply chain", docs/adr/0018-supply-chain.md):
#   make vulndb     local Go vulnerability database from the golang.org/x/vulndb
#                   module (module proxy only), in bin/vulndb/<version>
#   make vulncheck  govulncheck against it; report in bin/vulncheck.json; part of make test
#   make sbom       CycloneDX SBOM of the fraudscore binary in bin/fraudscore.cdx.json
#                   (make image writes it and copies it into the image)
# Tools are pinned and installed under bin/tools/<name>-<version>, once.
# Update a pin: change the version here (for the database:
# go list -m golang.org/x/vulndb@latest), run make vulncheck sbom, commit.
GOVULNCHECK_VERSION ?= v1.9.0
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
# Called vulnerabilities in required modules always fail. Those in the
# standard library come from the Go toolchain, not go.mod: fail or warn.
VULNCHECK_STDLIB ?= warn
VULNCHECK_REPORT ?= $(BIN)/vulncheck.json
SBOM ?= $(BIN)/fraudscore.cdx.json
# The image is built for linux/amd64 unless told otherwise (docker build --platform).
SBOM_GOARCH ?= amd64

TOOLS := $(BIN)/tools
GOVULNCHECK := $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)
CYCLONEDX_GOMOD := $(TOOLS)/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)
VULNDB_DIR := $(BIN)/vulndb/$(VULNDB_VERSION)

# The Go tests of the gate (internal/vulncheck) and of the SBOM
# (deploy/validate) use the same tools and database (testenv.PinnedTool).
export FRAUDSCORE_GOVULNCHECK := $(abspath $(GOVULNCHECK))
export FRAUDSCORE_CYCLONEDX_GOMOD := $(abspath $(CYCLONEDX_GOMOD))
export FRAUDSCORE_VULNDB := $(abspath $(VULNDB_DIR))

.PHONY: vulndb vulncheck sbom supplychain-tools

# make test: the gate first, and the SBOM tool for its test.
test: vulncheck $(CYCLONEDX_GOMOD)

$(GOVULNCHECK):
	@mkdir -p $(TOOLS)/.gobin-govulncheck
	GOBIN=$(abspath $(TOOLS))/.gobin-govulncheck $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mv $(TOOLS)/.gobin-govulncheck/govulncheck $@

$(CYCLONEDX_GOMOD):
	@mkdir -p $(TOOLS)/.gobin-cyclonedx
	GOBIN=$(abspath $(TOOLS))/.gobin-cyclonedx $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)
	mv $(TOOLS)/.gobin-cyclonedx/cyclonedx-gomod $@

supplychain-tools: $(GOVULNCHECK) $(CYCLONEDX_GOMOD) ## install the pinned govulncheck and cyclonedx-gomod into bin/tools

# One directory per database version: built once, kept until make clean.
$(VULNDB_DIR)/index/modules.json:
	$(GO) run ./cmd/vulndb -go $(GO) -version $(VULNDB_VERSION) -out $(VULNDB_DIR)

vulndb: $(VULNDB_DIR)/index/modules.json ## build the local Go vulnerability database (VULNDB_VERSION) from the golang.org/x/vulndb module

# A scan that passed is not repeated while nothing it depends on changed: the
# key hashes the Go version, the pins, the policy and every non-test Go
# source, go.mod and go.sum (git ls-files: tracked and new files). Its
# summary is kept beside the report (bin/vulncheck.txt).
VULNCHECK_KEY_CMD = { $(GO) env GOVERSION; echo $(GOVULNCHECK_VERSION) $(VULNDB_VERSION) $(VULNCHECK_STDLIB); \
	  git ls-files -co --exclude-standard -- '*.go' go.mod go.sum | grep -v '_test\.go$$' | sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1

vulncheck: $(GOVULNCHECK) vulndb ## govulncheck ./... against the local database; fails on called vulnerabilities (report: bin/vulncheck.json)
	@set -o pipefail; key=$$($(VULNCHECK_KEY_CMD)) || key=none; \
	if [ "$$key" != none ] && [ -f $(VULNCHECK_REPORT) ] && [ "$$(cat $(VULNCHECK_REPORT).key 2>/dev/null)" = "$$key" ]; then \
	  echo "vulncheck: nothing changed since the last scan, which passed ($(VULNCHECK_REPORT)):"; cat $(VULNCHECK_REPORT:.json=.txt); \
	else \
	  rm -f $(VULNCHECK_REPORT).key; \
	  $(GO) run ./cmd/vulncheck -govulncheck $(GOVULNCHECK) -db $(VULNDB_DIR) -report $(VULNCHECK_REPORT) -stdlib $(VULNCHECK_STDLIB) ./... \
	    | tee $(VULNCHECK_REPORT:.json=.txt) && echo "$$key" > $(VULNCHECK_REPORT).key; \
	fi

# The binary as the image builds it: linux, no cgo, the image's build tags.
sbom: $(CYCLONEDX_GOMOD) ## CycloneDX SBOM (JSON) of the fraudscore binary as the image builds it, into bin/fraudscore.cdx.json
	@mkdir -p $(dir $(SBOM))
	GOOS=linux GOARCH=$(SBOM_GOARCH) CGO_ENABLED=0 GOFLAGS=-tags=$(IMAGE_GO_TAGS) $(CYCLONEDX_GOMOD) app -json -licenses -std \
	  -main cmd/fraudscore -output $(SBOM) .
	@echo "sbom: $(SBOM)"
