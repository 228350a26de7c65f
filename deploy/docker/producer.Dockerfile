# syntax=docker/dockerfile:1
# producer: the load generator. Edge devices normally run the static binary under systemd
# (deploy/install-producer.sh); this image is for running benchmarks from a container host.
#   docker buildx build -f deploy/docker/producer.Dockerfile --platform linux/amd64,linux/arm64 -t benchpipe/producer .
#   docker buildx build -f deploy/docker/producer.Dockerfile --target pgbench ... -t benchpipe/producer:pgbench .
# The default (last) stage is distroless and has no pgbench: it runs `producer mqtt`, `spool` and `compare`.
# The pgbench stage adds the PostgreSQL client tools from the official postgres image for `producer pgbench`.
ARG GO_VERSION=1.26
ARG PG_MAJOR=17

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/producer ./producer && \
    mkdir -p /out/state/spool

# producer with pgbench. The postgres image's postgres user is uid 70 on Alpine.
FROM postgres:${PG_MAJOR}-alpine AS pgbench
COPY --from=build /out/producer /usr/local/bin/producer
COPY --from=build --chown=70:70 /out/state /var/lib/benchpipe
ENV BENCHPIPE_CONFIG=/etc/benchpipe/benchpipe.yaml \
    STATE_DIRECTORY=/var/lib/benchpipe
USER 70:70
ENTRYPOINT ["/usr/local/bin/producer"]
CMD ["--help"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/producer /usr/local/bin/producer
# The spool (records not yet acknowledged by Kafka) lives in $STATE_DIRECTORY/spool, as under systemd; mount a
# volume on /var/lib/benchpipe to keep it across container restarts.
COPY --from=build --chown=65532:65532 /out/state /var/lib/benchpipe
ENV BENCHPIPE_CONFIG=/etc/benchpipe/benchpipe.yaml \
    STATE_DIRECTORY=/var/lib/benchpipe
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/producer"]
CMD ["--help"]
