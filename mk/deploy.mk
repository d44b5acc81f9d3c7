# Container image and Kubernetes deployment (docs/deploy.md).
IMAGE ?= ghcr.io/fraudscore/fraudscore
# The worker's NATS micro service needs a SemVer version: tags v1.2.3 are; a
# bare `git describe --always` hash is not, so untagged builds use 0.0.0-dev+<hash>.
IMAGE_VERSION ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null); echo $${v:-0.0.0-dev})
IMAGE_TAG ?= $(if $(filter 0.0.0-dev,$(IMAGE_VERSION)),$(COMMIT),$(IMAGE_VERSION))
DOCKER ?= docker
OVERLAYS := dev prod

# The image's build tags: the Dockerfile's GO_TAGS default, read from it.
IMAGE_GO_TAGS := $(shell sed -n 's/^ARG GO_TAGS="\(.*\)"/\1/p' Dockerfile)

.PHONY: image image-size deploy-render deploy-check deploy-dev deploy-prod

# The SBOM (make sbom, mk/supplychain.mk) is written first: the Dockerfile
# copies it into the image at /sbom/fraudscore.cdx.json, and it stays in bin/
# beside the build.
image: sbom ## build the container image with its SBOM (needs a Docker engine; IMAGE=... IMAGE_TAG=...)
	DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg VERSION=$(IMAGE_VERSION) --build-arg COMMIT=$(COMMIT) \
	  -t $(IMAGE):$(IMAGE_TAG) .
	@$(DOCKER) image inspect --format 'image size: {{.Size}} bytes' $(IMAGE):$(IMAGE_TAG)
	@echo "SBOM: $(SBOM) (in the image: /sbom/fraudscore.cdx.json)"

image-size: ## what goes into the (scratch) image without an engine: static binary + the latest model version, into docs/bench/image-size.json
	@mkdir -p $(BIN) docs/bench
	@CGO_ENABLED=0 $(GO) build -trimpath -tags '$(IMAGE_GO_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/fraudscore-image ./cmd/fraudscore
	@b=$$(stat -c %s $(BIN)/fraudscore-image); m=$$(du -sb models/$$(readlink models/latest) | cut -f1); \
	  printf '{\n  "commit": "%s",\n  "dirty": %s,\n  "date": "%s",\n  "host": "%s",\n  "go_version": "%s",\n  "command": "make image-size",\n  "binary_bytes": %s,\n  "models_bytes": %s,\n  "image_content_bytes": %s\n}\n' \
	    "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" "$$(git diff --quiet HEAD -- . ':!docs/bench/image-size.json' 2>/dev/null && echo false || echo true)" \
	    "$$(date -u +%FT%TZ)" "$$(hostname)" "$$($(GO) env GOVERSION)" "$$b" "$$m" "$$((b+m))" | tee docs/bench/image-size.json

deploy-render: ## render every kustomize overlay into bin/deploy/<overlay>.yaml
	@mkdir -p $(BIN)/deploy
	@for o in $(OVERLAYS); do kubectl kustomize kustomize/overlays/$$o > $(BIN)/deploy/$$o.yaml && echo "$(BIN)/deploy/$$o.yaml"; done

deploy-check: ## validate manifests, image, alerts and dashboard (go test ./deploy/...)
	$(GO) test -count=1 ./deploy/...

deploy-dev: ## apply the dev overlay to the current kubectl context
	kubectl apply -k kustomize/overlays/dev

deploy-prod: ## apply the prod overlay to the current kubectl context
	kubectl apply -k kustomize/overlays/prod
