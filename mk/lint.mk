# Static analysis beyond go vet: staticcheck (honnef.co/go/tools), pinned
# and installed under bin/tools/staticcheck-<version>, once, from the module
# proxy. make test runs it after vet; a finding fails the build. The
# worker the image ships is built without the embedded server (-tags
# noembedded, see the Dockerfile), whose files a second pass checks.
# Update the pin: change the version (go list -m -versions honnef.co/go/tools),
# run make lint, fix or justify what it finds, commit.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(BIN)/tools/staticcheck-$(STATICCHECK_VERSION)

test: lint

lint: $(STATICCHECK) ## staticcheck ./... (pinned in mk/lint.mk; part of make test)
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags noembedded ./cmd/fraudscore

$(STATICCHECK):
	@mkdir -p $(BIN)/tools/.gobin-staticcheck
	GOBIN=$(abspath $(BIN)/tools)/.gobin-staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/tools/.gobin-staticcheck/staticcheck $@
