# syntax=docker/dockerfile:1
# fraudscore worker image: a static Go binary and the bundled models, nothing
# else, run as a numeric non-root user. Build: make image (VERSION/COMMIT as
# build args). Validated by deploy/validate (BuildKit parser: final stage
# non-root USER, only /fraudscore and /models; the binary is static and runs
# in an empty root filesystem). Why scratch and not distroless/static:
# docs/adr/0006-deployment.md (size: the binary is ~23.8 MB today).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
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
# Go build tags, e.g. to leave out optional parts of the binary.
ARG GO_TAGS=""
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -tags "${GO_TAGS}" \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/fraudscore ./cmd/fraudscore

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
# The whole models directory, so models/latest stays a symlink to its version.
COPY --chown=0:0 models /models
ENV FRAUDSCORE_MODEL_DIR=/models \
    FRAUDSCORE_HTTP_ADDR=:8090
EXPOSE 8090
USER 65532:65532
ENTRYPOINT ["/fraudscore"]
CMD ["worker"]
