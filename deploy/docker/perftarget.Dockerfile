# syntax=docker/dockerfile:1
# perftarget: the embedded NATS server with MQTT that benchmarks publish to. Build from the repository root:
#   docker buildx build -f deploy/docker/perftarget.Dockerfile --platform linux/amd64,linux/arm64 -t benchpipe/perftarget .
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/perftarget ./perftarget && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/probe ./deploy/probe && \
    mkdir -p /out/state/jetstream

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/perftarget /usr/local/bin/perftarget
COPY --from=build /out/probe /usr/local/bin/probe
# The JetStream store. Created here, owned by the runtime user, so that a named volume mounted on it starts out
# writable (Docker copies the image directory's ownership into a new volume).
COPY --from=build --chown=65532:65532 /out/state /var/lib/perftarget
ENV BENCHPIPE_CONFIG=/etc/benchpipe/benchpipe.yaml
USER 65532:65532
# MQTT, NATS, NATS monitoring, Prometheus /metrics + /healthz
EXPOSE 1883 4222 8222 7777
ENTRYPOINT ["/usr/local/bin/perftarget"]
