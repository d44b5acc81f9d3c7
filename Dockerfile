# syntax=docker/dockerfile:1@sha256:4edf897a3ffa55b89f906fc8cc78afdb3f1834cc9c7083565e611a8a7d5fe99e
# fraudscore worker image: a static Go binary and the bundled models, nothing
# else, run as a numeric non-root user. Build: make image (VERSION/COMMIT as
# build args). Validated by deploy/validate (BuildKit parser: final stage
# non-root USER, only /fraudscore and /models; the binary is static and runs
# in an empty root filesystem). Why scratch and not distroless/static:
# docs/adr/0006-deployment.md (size: the binary is ~24 MB today).
#
# Every image this file pulls is pinned by digest (the syntax frontend above
# and the build stage; scratch is no image): a tag can be moved, a digest
# cannot. deploy/validate fails on an unpinned FROM. The Go patch release is
# the one this repository's machines build with (go1.26.8), so the image's
# binary and the SBOM that make image writes (bin/fraudscore.cdx.json, copied
# to /sbom/) name the same standard library. The digests were not pulled
# here (no registry access): they are the ones several unrelated public
# projects pin for the same tags. Updating (docs/security.md "Supply chain"):
#   docker buildx imagetools inspect golang:1.26.X-bookworm   # "Digest:" line
# then replace tag and digest together and run go test ./deploy/validate.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
# Modules first so that source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# VERSION must be SemVer (v1.2.3 or 1.2.3-rc.1): the worker registers a NATS
# micro service whose version must be SemVer; "dev" is mapped to 0.0.0-dev.
ARG VERSION=dev
ARG COMMIT=unknown
# Go build tags. noembedded leaves out the embedded NATS server that only
# `make run` uses (about a third of the binary): the image always connects to
# a NATS cluster, and refuses FRAUDSCORE_EMBEDDED=true saying so.
ARG GO_TAGS="noembedded"
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -tags "${GO_TAGS}" \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/fraudscore ./cmd/fraudscore
# Only the version models/latest names, and the link to it: the image serves
# its bundled champion. Older versions stay in the repository (rollback in a
# cluster is a new image or a mounted models volume: docs/models.md).
RUN mkdir -p /out/models && v="$(readlink models/latest)" && \
    cp -a "models/$v" /out/models/ && ln -s "$v" /out/models/latest

# scratch: no shell, no package manager, no libc, no CA bundle. TLS to NATS
# uses FRAUDSCORE_NATS_CA_FILE (mounted); the code needs no time zone data.
FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="fraudscore" \
      org.opencontainers.image.description="Real-time fraud scoring on NATS JetStream" \
      org.opencontainers.image.source="https://github.com/fraudscore/fraudscore" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build --chown=0:0 --chmod=0555 /out/fraudscore /fraudscore
# The latest version and models/latest, still a symlink to it.
COPY --from=build --chown=0:0 /out/models /models
# The CycloneDX SBOM of the binary, written by make image (make sbom) before
# the build: the image carries the list of what it is made of.
COPY --chown=0:0 --chmod=0444 bin/fraudscore.cdx.json /sbom/fraudscore.cdx.json
ENV FRAUDSCORE_MODEL_DIR=/models \
    FRAUDSCORE_HTTP_ADDR=:8090
EXPOSE 8090
USER 65532:65532
ENTRYPOINT ["/fraudscore"]
CMD ["worker"]
