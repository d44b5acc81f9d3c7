# syntax=docker/dockerfile:1
# fraudscore worker image: a static Go binary and the bundled models on a
# distroless, non-root base. Build: make image (VERSION/COMMIT as build args).
# Validated by deploy/validate (final stage: non-root USER, only /fraudscore
# and /models copied; the binary is static and runs in an empty root fs).

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
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/fraudscore ./cmd/fraudscore

FROM gcr.io/distroless/static-debian12:nonroot
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
