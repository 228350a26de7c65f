# syntax=docker/dockerfile:1
# The sink: Kafka → TimescaleDB. Build from the repository root:
#   docker buildx build -f deploy/docker/sink.Dockerfile --platform linux/amd64,linux/arm64 -t benchpipe/sink .
# The build stage runs on the builder's own platform and cross-compiles (CGO off), so an arm64 image builds
# without emulation.
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
    go build -trimpath -ldflags "-s -w" -o /out/sink ./sink && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/probe ./deploy/probe

# distroless static: CA certificates, /etc/passwd with nonroot (65532), tzdata; no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sink /usr/local/bin/sink
COPY --from=build /out/probe /usr/local/bin/probe
# The configuration is mounted here (compose: deploy/compose/sink.yaml; Kubernetes: a ConfigMap).
ENV BENCHPIPE_CONFIG=/etc/benchpipe/benchpipe.yaml
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sink"]
CMD ["run"]
