# benchpipe — the two commands a newcomer needs are `make demo` and `make test`.
GO        ?= go
BIN       ?= bin
GOFLAGS_STATIC = CGO_ENABLED=0
LDFLAGS   = -s -w
PROGRAMS  = sink producer perftarget
TEST_TIMEOUT ?= 30m
# The race detector is on for every package: the sink, the spool and the load generators are all concurrent.
RACE      ?= -race

.PHONY: help demo test tools test-go test-kafka test-viewer lint build cross images bench-sink bench-hist bench-mqtt bench-pgbench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

demo: ## the whole pipeline on this machine (no Docker): target, Kafka (kfake), sink, PostgreSQL, MQTT and pgbench runs, two agents and a job group launched on them; then the viewer on http://127.0.0.1:8080
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "make demo: npm not found: the viewer is not built, GraphQL only (apt-get install -y nodejs npm)"; \
	elif ! $(MAKE) --no-print-directory viewer/dist/index.html; then \
	  echo "make demo: the viewer did not build: GraphQL only"; fi
	$(GO) run ./internal/demo

# The viewer the demo serves, rebuilt when its sources change.
viewer/dist/index.html: $(shell find viewer/src viewer/public -type f 2>/dev/null) viewer/index.html viewer/package.json viewer/package-lock.json viewer/vite.config.ts
	cd viewer && npm ci --no-audit --no-fund && npm run build

test: tools lint test-go test-viewer ## all tests: tools check, gofmt, go vet, go mod tidy, Go tests with -race (real PostgreSQL, pgbench, NATS, Mosquitto, kfake), viewer in Chromium
	@echo "make test: all suites passed"

tools: ## install (as root) or name the tools the tests run for real
	@.ci/ensure-tools

lint: ## gofmt, go vet and go mod tidy must be clean
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './viewer/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy (go mod tidy -diff shows what changes)"; exit 1; }

test-go: ## Go tests (with the race detector; RACE= to run without)
	$(GO) test $(RACE) -timeout $(TEST_TIMEOUT) ./...

# The tests that run on both Kafka backends, and the real-broker-only ones, on the real broker alone.
KAFKA_TESTS = ^(TestEndToEndFieldByField|TestProducerResendIsDeduplicated|TestHealthEndpoints|TestPoisonRecordsGoToDeadLetterTopic|TestTwoSinksShareTheGroup|TestPostgresRestartMidIngest|TestCrashSafetySIGKILL|TestApplyCreatesAndAltersWhatTheYAMLSays|TestConcurrentAppliesAllSucceed|TestSinkBinary|TestDeliversWhenKafkaComesUp|TestStatusThenFlushAfterOutage|TestWhileAProducerRuns|TestRunRowsMatchSummaryJSON|TestKafkaDownMidRun|TestProducerSIGKILLThenFlush|TestPerftoolCompatRoundTrip|TestCompareWithLastAfterRun|TestPgbenchCompareWithLast|TestApache.*|TestSASLSSLEndToEnd|TestKafkaConnect.*)$$
KAFKA_PKGS  = ./sink/ ./sink/ingest/ ./sink/topics/ ./producer/publish/ ./producer/spoolcmd/ ./internal/e2e/ ./internal/testenv/
test-kafka: ## the real-broker tier alone: Apache Kafka 4.1.1 (from Maven Central, configured like docker-compose.yml) under the Kafka tests; needs Java >= 17 and Maven
	BENCHPIPE_KAFKA=apache $(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) -run '$(KAFKA_TESTS)' $(KAFKA_PKGS)

test-viewer: ## viewer unit, contract and browser tests (needs npm and chromium)
	@if [ -f viewer/package.json ]; then \
	  cd viewer && (npm ci --no-audit --no-fund >/dev/null) && npm run build && npm test && npm run test:browser; \
	else echo "viewer/ not present: skipped"; fi

build: ## static binaries for this machine into bin/
	@mkdir -p $(BIN)
	for p in $(PROGRAMS); do $(GOFLAGS_STATIC) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$p ./$$p || exit 1; done

cross: ## static edge binaries bin/{producer,perftarget}-linux-{amd64,arm64,arm} (arm = GOARM=7), as install-producer.sh expects
	@mkdir -p $(BIN)
	for p in producer perftarget; do \
	  $(GOFLAGS_STATIC) GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$p-linux-amd64 ./$$p || exit 1; \
	  $(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$p-linux-arm64 ./$$p || exit 1; \
	  $(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$p-linux-arm ./$$p || exit 1; \
	done
	@file $(BIN)/*-linux-* | grep -v "statically linked" && { echo "a binary is not static"; exit 1; } || echo "cross: all edge binaries static"

PLATFORMS ?= linux/amd64,linux/arm64
REGISTRY  ?= benchpipe
TAG       ?= dev
images: ## container images (sink, perftarget, producer, viewer) with docker buildx; needs a Docker engine (none on the dev VM or CI); multi-platform builds need PUSH=1 or the containerd image store
	@command -v docker >/dev/null && docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1 || { echo "make images needs Docker with buildx and a running engine; this machine has none"; exit 1; }
	for i in sink perftarget producer viewer; do \
	  docker buildx build --platform $(PLATFORMS) -f deploy/docker/$$i.Dockerfile -t $(REGISTRY)/$$i:$(TAG) $(if $(PUSH),--push) . || exit 1; \
	done

bench-sink: ## sink (kfake and real Kafka) vs raw binary COPY vs Kafka Connect (Debezium JDBC sink), plus produce-to-row latency; needs Java 17+ and Maven for the Kafka rows
	$(GO) run ./sink/bench

bench-hist: ## what latency histograms cost: bytes per sample, sink rows/s with vs without, a 24-hour run's percentiles
	$(GO) run ./schema/bench

bench-mqtt: ## MQTT generator against the embedded target: QoS 0/1, 10 pub / 10 sub, 100 B, unlimited rate
	$(GO) run ./producer/mqttload/bench

bench-pgbench: ## the same select-only pgbench run plain and through `producer pgbench`
	$(GO) run ./producer/pgbench/bench

clean:
	rm -rf $(BIN)
