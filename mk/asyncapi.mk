# AsyncAPI: contracts/asyncapi.yaml (the subjects, headers and payloads
# fraudscore exchanges) checked by the AsyncAPI parser (@asyncapi/parser,
# pinned in tools/asyncapi/package-lock.json). .ci/run installs node and the
# parser; this target installs the parser when it is missing. The Go side
# (every subject and header the code defines is in the document, nothing
# else is) is contracts/asyncapi_test.go.
ASYNCAPI_TOOLS := tools/asyncapi

.PHONY: asyncapi-validate

asyncapi-validate: ## validate contracts/asyncapi.yaml with the AsyncAPI parser (needs node and npm)
	@test -d $(ASYNCAPI_TOOLS)/node_modules/@asyncapi/parser || npm ci --prefix $(ASYNCAPI_TOOLS) --ignore-scripts --no-audit --no-fund
	node $(ASYNCAPI_TOOLS)/validate.js contracts/asyncapi.yaml

test: asyncapi-validate
