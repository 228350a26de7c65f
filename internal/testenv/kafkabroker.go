package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The real-broker tier: a single-node Apache Kafka (KRaft, broker and controller in one JVM) started from the jars
// Maven Central serves, configured from docker-compose.yml's kafka service, so that the compose stack's listener,
// security and topic settings are the ones the tests run against. Only ports, hosts and directories are replaced.

// EnvKafkaCache names the variable that moves the jar cache (default: the user's cache directory, e.g.
// ~/.cache/benchpipe). The jars are resolved once per Kafka version; Maven keeps its own cache in ~/.m2.
const EnvKafkaCache = "BENCHPIPE_KAFKA_CACHE"

// The apache/kafka image turns KAFKA_* variables into server.properties except these (they are the start script's),
// as its kafka-propertiesSpec.json says. KAFKA_HEAP_OPTS is not in the image's list, so the image also writes a
// heap.opts property that the broker ignores; here it becomes the JVM's heap options, as the image's start script
// uses it.
var imageExcludes = []string{"KAFKA_VERSION", "KAFKA_HEAP_OPT", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS",
	"KAFKA_JMX_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL",
	"KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL"}

// singleUnderscore is the image's rule for a single underscore between two other characters (its utility.go).
var singleUnderscore = regexp.MustCompile("[^_]_[^_]")

// PropertyName converts an apache/kafka image variable name (without KAFKA_) to a broker property the way the image
// does: _ → ., __ → _, ___ → -, lower case. KAFKA_LISTENER_NAME_DEVICES_SCRAM___SHA___512_SASL_JAAS_CONFIG is
// listener.name.devices.scram-sha-512.sasl.jaas.config.
func PropertyName(env string) string {
	s := singleUnderscore.ReplaceAllStringFunc(env, func(m string) string { return strings.ReplaceAll(m, "_", ".") })
	s = strings.ReplaceAll(s, "___", "-")
	return strings.ToLower(strings.ReplaceAll(s, "__", "_"))
}

// KafkaCompose is the kafka service of a compose project: what the apache/kafka image would make of it.
type KafkaCompose struct {
	Version    string            // the image tag (KAFKA_VERSION)
	ClusterID  string            // CLUSTER_ID
	HeapOpts   []string          // KAFKA_HEAP_OPTS
	Properties map[string]string // server.properties, from the KAFKA_* variables
	Mounts     map[string]string // container path → host path of the service's bind mounts
}

// LoadKafkaCompose loads the compose files (relative to the repository root; docker-compose.yml when none) with
// .env.example's values, empty (required) ones filled with test values, and env on top, and returns the kafka
// service as the image would configure the broker. The operating system's environment is left out, so a
// developer's exported variables can't change what the tests run.
func LoadKafkaCompose(env map[string]string, files ...string) (*KafkaCompose, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		files = []string{"docker-compose.yml"}
	}
	vars, err := exampleEnv(filepath.Join(root, ".env.example"))
	if err != nil {
		return nil, err
	}
	for k, v := range env {
		vars[k] = v
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(root, f))
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithName("benchpipe"), cli.WithWorkingDirectory(root),
		cli.WithEnv(envList(vars)))
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(files, " + "), err)
	}
	svc, ok := p.Services["kafka"]
	if !ok {
		return nil, errors.New("the compose project has no kafka service")
	}
	kc := &KafkaCompose{Properties: map[string]string{}, Mounts: map[string]string{}}
	if _, tag, ok := strings.Cut(svc.Image, ":"); ok {
		kc.Version = tag
	}
	for k, v := range svc.Environment {
		if v == nil {
			continue
		}
		switch {
		case k == "CLUSTER_ID":
			kc.ClusterID = *v
		case k == "KAFKA_HEAP_OPTS":
			kc.HeapOpts = strings.Fields(*v)
		case strings.HasPrefix(k, "KAFKA_") && !slices.Contains(imageExcludes, k):
			kc.Properties[PropertyName(strings.TrimPrefix(k, "KAFKA_"))] = *v
		}
	}
	for _, vol := range svc.Volumes {
		if vol.Type == types.VolumeTypeBind {
			kc.Mounts[vol.Target] = vol.Source
		}
	}
	if kc.Version == "" || kc.ClusterID == "" {
		return nil, fmt.Errorf("kafka service: image %q has no version tag or CLUSTER_ID is unset", svc.Image)
	}
	return kc, nil
}

// exampleEnv reads .env.example as an operator's filled-in .env: empty values get a test value.
func exampleEnv(file string) (map[string]string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if v == "" {
			v = "test-" + strings.ToLower(k)
		}
		vars[k] = v
	}
	return vars, nil
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// RepoRoot is the directory of the module's go.mod, found upwards from the working directory (a test's package).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// KafkaBrokerOptions says which broker to start.
type KafkaBrokerOptions struct {
	// ComposeFiles are loaded together (later files override earlier ones, as `docker compose -f a -f b`);
	// default docker-compose.yml.
	ComposeFiles []string
	// Env sets compose variables on top of .env.example (e.g. the directory a certificate mount comes from).
	Env map[string]string
	// SCRAMUsers are created (SCRAM-SHA-512) over the inter-broker listener once the broker is up, as an
	// operator does with kafka-configs.sh against the stack's internal listener.
	SCRAMUsers map[string]string
	// SCRAMListener adds a test-only listener of this name speaking SASL_PLAINTEXT with SCRAM-SHA-512, which no
	// compose file has: it tests the kafka.sasl settings without TLS. Empty = none.
	SCRAMListener string
}

// KafkaBroker is a running single-node Apache Kafka started from docker-compose.yml's settings.
type KafkaBroker struct {
	Dir        string            // server.properties, log4j2.properties, server.log, data/
	Version    string            // Kafka version (the compose image tag)
	Properties map[string]string // what the broker runs with: the compose settings, loopback ports and dirs
	// Listeners maps each advertised listener's name (INTERNAL, EXTERNAL, …) to its 127.0.0.1:port.
	Listeners map[string]string
	// StartTime is how long the last Start took until the broker answered (JVM start to metadata).
	StartTime time.Duration

	heap      []string
	lib       string
	extraDirs []string // removed with the broker (e.g. its certificates)
	java      string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exitc     chan struct{}
}

// Brokers returns the seed list of the EXTERNAL listener: what edge devices and the host use.
func (b *KafkaBroker) Brokers() []string { return []string{b.Listeners["EXTERNAL"]} }

// Addr returns the 127.0.0.1:port of the named listener (as docker-compose.yml names it), or fails the test.
func (b *KafkaBroker) Addr(tb testing.TB, listener string) string {
	tb.Helper()
	a, ok := b.Listeners[listener]
	if !ok {
		tb.Fatalf("testenv: the broker has no listener %s (it has %v)", listener, b.Listeners)
	}
	return a
}

// kafkaTools finds java (≥ 17, which Kafka 4 needs) and mvn, or skips/fails the test through Tool.
func kafkaTools(tb testing.TB) (java, mvn string) {
	tb.Helper()
	java = Tool(tb, "java", "apt-get install -y default-jre-headless (Java 17 or newer)")
	mvn = Tool(tb, "mvn", "apt-get install -y maven")
	if v, err := javaVersion(java); err != nil {
		tb.Fatalf("testenv: %v", err)
	} else if v < 17 {
		if os.Getenv(EnvRequireTools) != "" {
			tb.Fatalf("%s is Java %d and %s is set: Kafka 4 needs Java 17 or newer (apt-get install -y default-jre-headless)", java, v, EnvRequireTools)
		}
		tb.Skipf("%s is Java %d, Kafka 4 needs 17 or newer, test skipped: apt-get install -y default-jre-headless", java, v)
	}
	return java, mvn
}

// javaVersion returns the major version (java.specification.version) of java.
func javaVersion(java string) (int, error) {
	out, err := exec.Command(java, "-XshowSettings:properties", "-version").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s -version: %w\n%s", java, err, out)
	}
	m := regexp.MustCompile(`java\.specification\.version = (\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s: no java.specification.version in its settings", java)
	}
	return strconv.Atoi(string(m[1]))
}

// KafkaLib resolves the jars of Kafka version (broker, tools, a log4j2 binding) from Maven Central into the cache
// once and returns the directory for `java -cp 'DIR/*'`. Concurrent test processes wait for one resolution.
func KafkaLib(ctx context.Context, mvn, version string) (string, error) {
	return resolveLib(ctx, mvn, "kafkabroker", "kafka-"+version, version, "kafka_*.jar", "-Dkafka.version="+version)
}

// resolveLib copies the runtime dependencies of internal/testenv/<pomDir>/pom.xml (mvn run with args) into
// <cache>/<name>/lib once and returns that directory. A changed pom or key resolves again, and so does a lib
// without its marker jar.
func resolveLib(ctx context.Context, mvn, pomDir, name, key, marker string, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	pom := filepath.Join(root, "internal", "testenv", pomDir, "pom.xml")
	pomRaw, err := os.ReadFile(pom)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(pomRaw)
	stamp := hex.EncodeToString(sum[:8]) + " " + key // a changed pom resolves again
	cache := os.Getenv(EnvKafkaCache)
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for the Kafka jars (set %s): %w", EnvKafkaCache, err)
		}
		cache = filepath.Join(uc, "benchpipe")
	}
	dir := filepath.Join(cache, name)
	lib := filepath.Join(dir, "lib")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	if got, err := os.ReadFile(filepath.Join(dir, "resolved")); err == nil && string(got) == stamp {
		if jars, _ := filepath.Glob(filepath.Join(lib, marker)); len(jars) > 0 {
			return lib, nil
		}
	}
	tmp := lib + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, mvn, append([]string{"-q", "-B", "-f", pom, "dependency:copy-dependencies",
		"-DincludeScope=runtime", "-DoutputDirectory=" + tmp}, args...)...)
	cmd.Stdin = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("resolve %s from Maven Central (mvn dependency:copy-dependencies -f %s): %w\n%s", name, pom, err, out)
	}
	os.RemoveAll(lib)
	if err := os.Rename(tmp, lib); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "resolved"), []byte(stamp), 0o644); err != nil {
		return "", err
	}
	return lib, nil
}

// StartKafkaBroker resolves the jars, writes server.properties from the compose files with loopback ports and a
// fresh directory, formats the KRaft storage and starts the broker. Stop it with Remove.
func StartKafkaBroker(ctx context.Context, java, mvn string, o KafkaBrokerOptions) (*KafkaBroker, error) {
	kc, err := LoadKafkaCompose(o.Env, o.ComposeFiles...)
	if err != nil {
		return nil, err
	}
	lib, err := KafkaLib(ctx, mvn, kc.Version)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "benchpipe-kafka-")
	if err != nil {
		return nil, err
	}
	b := &KafkaBroker{Dir: dir, Version: kc.Version, heap: kc.HeapOpts, lib: lib, java: java}
	if o.SCRAMListener != "" {
		addSCRAMListener(kc.Properties, o.SCRAMListener)
	}
	if b.Properties, b.Listeners, err = loopbackProperties(kc, filepath.Join(dir, "data")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.writeFiles(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The image formats with CLUSTER_ID and the static quorum of controller.quorum.voters (no --standalone, which
	// is for a dynamic quorum and refuses a configuration that names voters).
	format := b.command(ctx, "kafka.tools.StorageTool", "format", "--config", b.path("server.properties"),
		"--cluster-id", kc.ClusterID, "--ignore-formatted")
	if out, err := format.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("kafka-storage format: %w\n%s", err, out)
	}
	if err := b.Start(ctx); err != nil {
		b.Remove()
		return nil, err
	}
	if len(o.SCRAMUsers) > 0 {
		if err := b.addSCRAMUsers(ctx, o.SCRAMUsers); err != nil {
			b.Remove()
			return nil, err
		}
	}
	return b, nil
}

// loopbackProperties is the compose configuration with every listener on 127.0.0.1 and a free port (advertised
// under the same), the controller quorum pointed at the controller listener, the log in dataDir and the
// container's mount paths replaced by the host's. Nothing else is changed.
func loopbackProperties(kc *KafkaCompose, dataDir string) (map[string]string, map[string]string, error) {
	props := map[string]string{}
	for k, v := range kc.Properties {
		for target, source := range kc.Mounts {
			if v == target || strings.HasPrefix(v, target+"/") {
				v = source + strings.TrimPrefix(v, target)
			}
		}
		props[k] = v
	}
	ports := map[string]string{}
	var listeners []string
	for _, l := range strings.Split(props["listeners"], ",") {
		name, _, ok := strings.Cut(strings.TrimSpace(l), "://")
		if !ok {
			return nil, nil, fmt.Errorf("listeners: %q is not NAME://host:port", l)
		}
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		ports[name] = fmt.Sprintf("127.0.0.1:%d", port)
		listeners = append(listeners, name+"://"+ports[name])
	}
	props["listeners"] = strings.Join(listeners, ",")
	advertised := map[string]string{}
	var adv []string
	for _, l := range strings.Split(props["advertised.listeners"], ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(l), "://")
		addr, ok := ports[name]
		if !ok {
			return nil, nil, fmt.Errorf("advertised listener %s is not in listeners", name)
		}
		advertised[name] = addr
		adv = append(adv, name+"://"+addr)
	}
	props["advertised.listeners"] = strings.Join(adv, ",")
	if voters := props["controller.quorum.voters"]; voters != "" {
		id, _, ok := strings.Cut(voters, "@")
		ctrl := ports[strings.Split(props["controller.listener.names"], ",")[0]]
		if !ok || strings.Contains(voters, ",") || ctrl == "" {
			return nil, nil, fmt.Errorf("controller.quorum.voters %q: want one voter on the controller listener", voters)
		}
		props["controller.quorum.voters"] = id + "@" + ctrl
	}
	props["log.dirs"] = dataDir
	return props, advertised, nil
}

// addSCRAMListener adds a SASL_PLAINTEXT listener with SCRAM-SHA-512 to the compose properties (its port is set
// with the others').
func addSCRAMListener(props map[string]string, name string) {
	props["listeners"] += "," + name + "://:0"
	props["advertised.listeners"] += "," + name + "://localhost:0"
	props["listener.security.protocol.map"] += "," + name + ":SASL_PLAINTEXT"
	prefix := "listener.name." + strings.ToLower(name) + "."
	props[prefix+"sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
	props[prefix+"scram-sha-512.sasl.jaas.config"] = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
}

func (b *KafkaBroker) path(name string) string { return filepath.Join(b.Dir, name) }

func (b *KafkaBroker) writeFiles() error {
	var keys []string
	for k := range b.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sp strings.Builder
	sp.WriteString("# written by internal/testenv from docker-compose.yml's kafka service\n")
	for _, k := range keys {
		fmt.Fprintf(&sp, "%s=%s\n", k, escapeProperty(b.Properties[k]))
	}
	if err := os.WriteFile(b.path("server.properties"), []byte(sp.String()), 0o600); err != nil {
		return err
	}
	log4j := "# written by internal/testenv: everything to server.log, as the image's console would show it\n" +
		"rootLogger.level=INFO\nrootLogger.appenderRef.file.ref=file\n" +
		"appender.file.type=File\nappender.file.name=file\nappender.file.fileName=" + b.path("server.log") + "\n" +
		"appender.file.layout.type=PatternLayout\nappender.file.layout.pattern=[%d] %p %m (%c)%n\n"
	return os.WriteFile(b.path("log4j2.properties"), []byte(log4j), 0o600)
}

// escapeProperty escapes a value for a Java properties file (a backslash is an escape there).
func escapeProperty(v string) string { return strings.ReplaceAll(v, `\`, `\\`) }

func (b *KafkaBroker) command(ctx context.Context, main string, args ...string) *exec.Cmd {
	jvm := append([]string{}, b.heap...)
	jvm = append(jvm, "-Djava.awt.headless=true", "-Dlog4j2.configurationFile="+b.path("log4j2.properties"),
		"-cp", filepath.Join(b.lib, "*"), main)
	cmd := exec.CommandContext(ctx, b.java, append(jvm, args...)...)
	cmd.Dir = b.Dir
	// Pdeathsig: a test binary that dies without cleanup must not leave a broker behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Start starts the broker (again, after Stop) on its ports and waits until it answers on every advertised
// listener that needs no credentials.
func (b *KafkaBroker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("kafka broker already running")
	}
	out, err := os.OpenFile(b.path("stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	began := time.Now()
	// Not ctx: the broker outlives the call that starts it.
	cmd := b.command(context.Background(), "kafka.Kafka", b.path("server.properties"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start kafka: %w", err)
	}
	b.cmd, b.exitc = cmd, make(chan struct{})
	go func(c *exec.Cmd, exited chan struct{}) { _ = c.Wait(); close(exited) }(cmd, b.exitc)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for name, addr := range b.Listeners {
		if proto := b.protocol(name); proto != "PLAINTEXT" {
			continue
		}
		if err := b.waitReady(ctx, addr); err != nil {
			b.stopLocked()
			tail, _ := os.ReadFile(b.path("server.log"))
			if len(tail) > 4000 {
				tail = tail[len(tail)-4000:]
			}
			return fmt.Errorf("kafka broker on %s (%s): %w\n%s", addr, name, err, tail)
		}
	}
	b.StartTime = time.Since(began)
	return nil
}

// protocol returns the security protocol of a listener from listener.security.protocol.map.
func (b *KafkaBroker) protocol(listener string) string {
	for _, kv := range strings.Split(b.Properties["listener.security.protocol.map"], ",") {
		if n, p, ok := strings.Cut(strings.TrimSpace(kv), ":"); ok && n == listener {
			return p
		}
	}
	return listener // Kafka's default: a listener named like its protocol
}

func (b *KafkaBroker) waitReady(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		select {
		case <-b.exitc:
			return errors.New("the broker exited")
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := adm.BrokerMetadata(pctx)
		cancel()
		if err == nil && len(m.Brokers) == 1 && m.Controller >= 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("not ready within 90s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the broker down cleanly (SIGTERM, as docker stop does), or kills it after 30 s.
func (b *KafkaBroker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	return nil
}

func (b *KafkaBroker) stopLocked() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exitc:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exitc
	}
	b.cmd = nil
}

// Kill kills the broker with SIGKILL (a crash: no controlled shutdown); Start brings it back on its log.
func (b *KafkaBroker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	<-b.exitc
	b.cmd = nil
}

// Pid returns the broker's process id, 0 when it is not running (for measuring its CPU time).
func (b *KafkaBroker) Pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Remove stops the broker and deletes its directory.
func (b *KafkaBroker) Remove() {
	_ = b.Stop()
	os.RemoveAll(b.Dir)
	for _, d := range b.extraDirs {
		os.RemoveAll(d)
	}
}

// addSCRAMUsers creates SCRAM-SHA-512 credentials over the inter-broker listener (plaintext inside the stack).
func (b *KafkaBroker) addSCRAMUsers(ctx context.Context, users map[string]string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Listeners[b.Properties["inter.broker.listener.name"]]))
	if err != nil {
		return err
	}
	defer cl.Close()
	var ups []kadm.UpsertSCRAM
	for u, pw := range users {
		ups = append(ups, kadm.UpsertSCRAM{User: u, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: pw})
	}
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, ups)
	if err != nil {
		return fmt.Errorf("create SCRAM users: %w", err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("create SCRAM user %s: %w", r.User, r.Err)
		}
	}
	return nil
}

// sharedKafka holds the brokers started once per test package (one per variant), stopped by Main.
var sharedKafka = struct {
	mu      sync.Mutex
	brokers map[string]*sharedBroker
}{brokers: map[string]*sharedBroker{}}

type sharedBroker struct {
	once sync.Once
	b    *KafkaBroker
	err  error
}

func sharedKafkaBroker(tb testing.TB, variant string, start func(ctx context.Context, java, mvn string) (*KafkaBroker, error)) *KafkaBroker {
	tb.Helper()
	java, mvn := kafkaTools(tb)
	sharedKafka.mu.Lock()
	s, ok := sharedKafka.brokers[variant]
	if !ok {
		s = &sharedBroker{}
		sharedKafka.brokers[variant] = s
	}
	sharedKafka.mu.Unlock()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		s.b, s.err = start(ctx, java, mvn)
		if s.err == nil {
			tb.Logf("testenv: Apache Kafka %s (%s) ready in %v, in %s", s.b.Version, variant, s.b.StartTime.Round(time.Millisecond), s.b.Dir)
		}
	})
	if s.err != nil {
		tb.Fatalf("testenv: Apache Kafka (%s): %v", variant, s.err)
	}
	return s.b
}

// stopSharedKafka stops and removes the package's shared brokers (Main).
func stopSharedKafka() {
	sharedKafka.mu.Lock()
	defer sharedKafka.mu.Unlock()
	for _, s := range sharedKafka.brokers {
		if s.b != nil {
			s.b.Remove()
		}
	}
}

// ApacheKafka returns the package's shared real broker, configured like docker-compose.yml's kafka service
// (started on first use, stopped by Main). Tests share it: each should use topics and groups of its own
// (UniqueTopic). It is skipped, or fails under BENCHPIPE_REQUIRE_TOOLS, without Java 17+ and Maven.
func ApacheKafka(tb testing.TB) *KafkaBroker {
	tb.Helper()
	return sharedKafkaBroker(tb, "docker-compose.yml", func(ctx context.Context, java, mvn string) (*KafkaBroker, error) {
		return StartKafkaBroker(ctx, java, mvn, KafkaBrokerOptions{})
	})
}

// OwnApacheKafka starts a broker of the test's own, for tests that stop or restart it; removed when the test ends.
func OwnApacheKafka(tb testing.TB, o KafkaBrokerOptions) *KafkaBroker {
	tb.Helper()
	java, mvn := kafkaTools(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := StartKafkaBroker(ctx, java, mvn, o)
	if err != nil {
		tb.Fatalf("testenv: Apache Kafka: %v", err)
	}
	tb.Cleanup(b.Remove)
	return b
}

// CreateTopics creates topics with the given partitions (replication factor 1) on b, as `sink topics apply`
// would; the broker creates none by itself (auto.create.topics.enable=false in docker-compose.yml).
func (b *KafkaBroker) CreateTopics(tb testing.TB, partitions int32, topics ...string) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Listeners[b.Properties["inter.broker.listener.name"]]))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		tb.Fatalf("testenv: create topics %v: %v", topics, err)
	}
}

// UniqueName returns prefix with the test's name and a counter, for topics and groups on a shared broker.
func UniqueName(tb testing.TB, prefix string) string {
	return fmt.Sprintf("%s.%s.%d", prefix, sanitize(tb.Name()), dbCounter.Add(1))
}
