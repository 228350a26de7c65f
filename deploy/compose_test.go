package deploy_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// The services of the stack; the monitoring ones only with --profile monitoring.
var (
	coreServices       = []string{"kafka", "timescaledb", "sink", "sink-api", "perftarget", "hasura", "viewer"}
	monitoringServices = []string{"prometheus", "grafana"}
)

// testEnvFile writes .env.example with every empty (required) value filled in, as an operator's .env would be.
func testEnvFile(t *testing.T) string {
	t.Helper()
	env := readEnvFile(t, ".env.example")
	var b strings.Builder
	for _, k := range env.keys {
		v := env.values[k]
		if v == "" {
			v = "test-" + strings.ToLower(k)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	file := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// loadCompose loads docker-compose.yml as `docker compose --env-file FILE --profile ... config` would: schema
// validation, interpolation, undefined services/volumes. The OS environment is left out on purpose, so that a
// developer's exported variables cannot make the test pass or fail.
func loadCompose(t *testing.T, envFile string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path(t, "docker-compose.yml")},
		cli.WithName("benchpipe"),
		cli.WithWorkingDirectory(root(t)),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, testEnvFile(t), "monitoring")
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func TestComposeLoads(t *testing.T) {
	p := mustLoadCompose(t)
	var names []string
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	want := slices.Concat(coreServices, monitoringServices)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("services with --profile monitoring = %v, want %v", names, want)
	}

	// Without the profile, the monitoring services are off and nothing else depends on them.
	core, err := loadCompose(t, testEnvFile(t))
	if err != nil {
		t.Fatalf("docker-compose.yml without profiles: %v", err)
	}
	for _, s := range monitoringServices {
		if _, on := core.Services[s]; on {
			t.Errorf("%s runs without --profile monitoring", s)
		}
	}
	for _, s := range coreServices {
		if _, on := core.Services[s]; !on {
			t.Errorf("%s is missing without profiles", s)
		}
	}
}

// Every service has a healthcheck and every dependency on one waits for it: otherwise Hasura starts before the
// sink has created the tables its metadata tracks.
func TestComposeHealthchecks(t *testing.T) {
	p := mustLoadCompose(t)
	for name, s := range p.Services {
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || hc.StartPeriod == nil {
			t.Errorf("%s: healthcheck should set interval, timeout, retries and start_period", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			if target.HealthCheck != nil && !target.HealthCheck.Disable && d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends on %s with condition %q, want %s", name, dep, d.Condition, types.ServiceConditionHealthy)
			}
		}
	}
	// The order the stack needs.
	for _, edge := range [][2]string{{"sink", "kafka"}, {"sink", "timescaledb"}, {"hasura", "sink"}, {"hasura", "timescaledb"}, {"viewer", "hasura"}, {"grafana", "timescaledb"},
		// sink api reads the views the sink's migrations create and produces to Kafka; Hasura asks it who every
		// request is (the auth webhook), so it must be up first.
		{"sink-api", "sink"}, {"sink-api", "kafka"}, {"hasura", "sink-api"}} {
		if _, ok := p.Services[edge[0]].DependsOn[edge[1]]; !ok {
			t.Errorf("%s must depend on %s", edge[0], edge[1])
		}
	}
	// The TimescaleDB healthcheck must use TCP: during initialisation the server listens on its socket only.
	if hc := strings.Join(p.Services["timescaledb"].HealthCheck.Test, " "); !strings.Contains(hc, "pg_isready -h 127.0.0.1") {
		t.Errorf("timescaledb healthcheck %q must run pg_isready -h 127.0.0.1", hc)
	}
}

// Files the stack mounts or builds from must exist, and named volumes hold the state.
func TestComposeFilesAndVolumes(t *testing.T) {
	p := mustLoadCompose(t)
	for name, s := range p.Services {
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s: bind mount: %v", name, err)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s should be read-only", name, v.Target)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %s is not a named volume of the project", name, v.Source)
				}
			}
		}
	}
	for svc, target := range map[string]string{"kafka": "/var/lib/kafka/data", "timescaledb": "/var/lib/postgresql/data",
		"perftarget": "/var/lib/perftarget", "prometheus": "/prometheus", "grafana": "/var/lib/grafana"} {
		if !slices.ContainsFunc(p.Services[svc].Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == target
		}) {
			t.Errorf("%s: state in %s must be on a named volume", svc, target)
		}
	}
}

// benchpipe's own images run as a numeric non-root user on a read-only root, without capabilities: those built
// here, and the services that run an image built by another (sink-api runs the sink's).
func TestComposeOwnImagesHardened(t *testing.T) {
	p := mustLoadCompose(t)
	own := 0
	for name, s := range p.Services {
		if s.Build == nil && !strings.HasPrefix(s.Image, "benchpipe/") {
			continue
		}
		own++
		uid, _, _ := strings.Cut(s.User, ":")
		if uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
			t.Errorf("%s: user %q, want a numeric non-root uid", name, s.User)
		}
		if !s.ReadOnly {
			t.Errorf("%s: read_only should be true", name)
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: cap_drop should be [ALL]", name)
		}
		if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security_opt should contain no-new-privileges:true", name)
		}
	}
	if own < 4 {
		t.Errorf("only %d of benchpipe's own services found (sink, sink-api, perftarget, viewer)", own)
	}
}

func TestComposeKafkaListeners(t *testing.T) {
	p := mustLoadCompose(t)
	env := p.Services["kafka"].Environment
	get := func(k string) string {
		if v := env[k]; v != nil {
			return *v
		}
		t.Errorf("kafka: %s not set (setting any KAFKA_* replaces all of the image's defaults)", k)
		return ""
	}
	if roles := get("KAFKA_PROCESS_ROLES"); roles != "broker,controller" {
		t.Errorf("KAFKA_PROCESS_ROLES = %q, want broker,controller", roles)
	}
	protocols := map[string]bool{}
	for _, kv := range strings.Split(get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
		name, _, _ := strings.Cut(kv, ":")
		protocols[name] = true
	}
	listenerNames := func(list string) map[string]string {
		out := map[string]string{}
		for _, l := range strings.Split(list, ",") {
			name, addr, ok := strings.Cut(l, "://")
			if !ok {
				t.Errorf("listener %q is not NAME://host:port", l)
			}
			if !protocols[name] {
				t.Errorf("listener %s has no entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name)
			}
			out[name] = addr
		}
		return out
	}
	listeners := listenerNames(get("KAFKA_LISTENERS"))
	advertised := listenerNames(get("KAFKA_ADVERTISED_LISTENERS"))
	controller := get("KAFKA_CONTROLLER_LISTENER_NAMES")
	if _, ok := listeners[controller]; !ok {
		t.Errorf("controller listener %s is not in KAFKA_LISTENERS", controller)
	}
	if _, ok := advertised[controller]; ok {
		t.Errorf("controller listener %s must not be advertised to clients", controller)
	}
	if ib := get("KAFKA_INTER_BROKER_LISTENER_NAME"); advertised[ib] != "kafka:19092" {
		t.Errorf("inter-broker listener %s advertised as %q, want kafka:19092 (what the sink's config uses)", ib, advertised[ib])
	}
	// The external listener is advertised under the host name of .env, and the test's .env says localhost.
	if advertised["EXTERNAL"] != "localhost:9092" {
		t.Errorf("EXTERNAL advertised as %q, want KAFKA_EXTERNAL_HOST:KAFKA_EXTERNAL_PORT (localhost:9092)", advertised["EXTERNAL"])
	}
	if voters := get("KAFKA_CONTROLLER_QUORUM_VOTERS"); !strings.HasPrefix(voters, get("KAFKA_NODE_ID")+"@") {
		t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS %q does not name node %s", voters, get("KAFKA_NODE_ID"))
	}
	id := ""
	if v := env["CLUSTER_ID"]; v != nil {
		id = *v
	}
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
		t.Errorf("CLUSTER_ID %q is not a base64url UUID (kafka-storage random-uuid)", id)
	}
	// The sink reaches Kafka on the internal listener.
	cfg := parseConfig(t, path(t, "deploy/compose/sink.yaml"), envOf(p.Services["sink"]))
	if !slices.Equal(cfg.Kafka.Brokers, []string{advertised[get("KAFKA_INTER_BROKER_LISTENER_NAME")]}) {
		t.Errorf("deploy/compose/sink.yaml brokers %v, want the internal listener %s", cfg.Kafka.Brokers, advertised["INTERNAL"])
	}
}

func envOf(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// The benchpipe configuration files mounted into the sink and the perftarget load with the environment those
// containers get, and agree with the healthchecks' and Prometheus' ports.
func TestComposeProgramConfigs(t *testing.T) {
	p := mustLoadCompose(t)
	sink := parseConfig(t, path(t, "deploy/compose/sink.yaml"), envOf(p.Services["sink"]))
	if sink.Sink.DatabaseURL == "" || !strings.Contains(sink.Sink.DatabaseURL, "@timescaledb:5432/") {
		t.Errorf("sink database URL %q should point at the timescaledb service", sink.Sink.DatabaseURL)
	}
	if sink.Sink.HTTPAddr != ":8080" || !strings.Contains(strings.Join(p.Services["sink"].HealthCheck.Test, " "), ":8080/readyz") {
		t.Errorf("sink http_addr %q and its healthcheck disagree", sink.Sink.HTTPAddr)
	}
	pt := parseConfig(t, path(t, "deploy/compose/perftarget.yaml"), envOf(p.Services["perftarget"]))
	if pt.Perftarget.Password == "" || pt.Perftarget.Username == "" {
		t.Error("perftarget must require a username and password in the stack")
	}
	if pt.Perftarget.MetricsAddr != ":7777" || !strings.Contains(strings.Join(p.Services["perftarget"].HealthCheck.Test, " "), ":7777/healthz") {
		t.Errorf("perftarget metrics_addr %q and its healthcheck disagree", pt.Perftarget.MetricsAddr)
	}
	if !strings.HasPrefix(pt.Perftarget.StoreDir, "/var/lib/perftarget/") {
		t.Errorf("perftarget store_dir %q is not on the perftarget-data volume", pt.Perftarget.StoreDir)
	}
	var mqtt []string
	for _, port := range p.Services["perftarget"].Ports {
		mqtt = append(mqtt, fmt.Sprint(port.Target))
	}
	if !slices.Contains(mqtt, fmt.Sprint(pt.Perftarget.MQTTPort)) {
		t.Errorf("perftarget publishes %v, not its MQTT port %d", mqtt, pt.Perftarget.MQTTPort)
	}
}

func TestComposeHasura(t *testing.T) {
	p := mustLoadCompose(t)
	h := p.Services["hasura"]
	env := envOf(h)
	// Roles come from sink api's auth webhook, which answers anonymous for a request without credentials.
	api := parseConfig(t, path(t, "deploy/compose/sink.yaml"), envOf(p.Services["sink-api"]))
	_, port, _ := strings.Cut(api.Fleet.APIAddr, ":")
	for k, want := range map[string]string{
		"HASURA_GRAPHQL_ENABLE_CONSOLE": "false",
		"HASURA_GRAPHQL_DEV_MODE":       "false",
		"HASURA_GRAPHQL_METADATA_DIR":   "/hasura-metadata",
		"HASURA_GRAPHQL_AUTH_HOOK":      "http://sink-api:" + port + "/auth",
		"HASURA_GRAPHQL_AUTH_HOOK_MODE": "GET",
		"BENCHPIPE_API_URL":             "http://sink-api:" + port,
		"BENCHPIPE_ACTION_SECRET":       envOf(p.Services["sink-api"])["BENCHPIPE_ACTION_SECRET"],
	} {
		if env[k] != want || want == "" {
			t.Errorf("hasura %s = %q, want %q", k, env[k], want)
		}
	}
	// Hasura exits with "--unauthorized-role … is not allowed when --auth-hook … is set" when both are.
	if _, set := h.Environment["HASURA_GRAPHQL_UNAUTHORIZED_ROLE"]; set {
		t.Error("hasura sets HASURA_GRAPHQL_UNAUTHORIZED_ROLE, which Hasura refuses together with an auth hook")
	}
	// Without an admin secret everyone is admin and the auth hook is never called.
	if env["HASURA_GRAPHQL_ADMIN_SECRET"] == "" {
		t.Error("hasura runs without HASURA_GRAPHQL_ADMIN_SECRET")
	}
	if !strings.Contains(h.Image, ".cli-migrations-v3") {
		t.Errorf("hasura image %s is not a cli-migrations-v3 image (which applies /hasura-metadata)", h.Image)
	}
	if !slices.ContainsFunc(h.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == "/hasura-metadata" && v.Source == path(t, "deploy/hasura/metadata")
	}) {
		t.Error("hasura must mount deploy/hasura/metadata at /hasura-metadata")
	}
	// The source's database URL variable of the metadata is the one compose sets.
	src := hasuraSource(t)
	if env[src.Configuration.ConnectionInfo.DatabaseURL.FromEnv] == "" {
		t.Errorf("metadata reads the database URL from %s, which the hasura service does not set", src.Configuration.ConnectionInfo.DatabaseURL.FromEnv)
	}
}

// Required secrets stop compose with a message instead of starting with empty passwords.
func TestComposeRequiresSecrets(t *testing.T) {
	_, err := loadCompose(t, path(t, ".env.example"), "monitoring")
	if err == nil || !strings.Contains(err.Error(), "set it in .env") {
		t.Fatalf("loading with the unedited .env.example: err = %v, want a required-variable error", err)
	}
}

// secretName matches environment variables that carry credentials.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|DATABASE_URL|_DSN$)`)

// urlPassword finds the password part of a URL with userinfo.
var urlPassword = regexp.MustCompile(`://[^/@\s:]+:([^@\s]+)@`)

// No secret is written into docker-compose.yml: every credential is a ${VAR} from .env. Checked on the raw file,
// before interpolation hides where a value came from.
func TestComposeNoSecretLiterals(t *testing.T) {
	var doc struct {
		Services map[string]struct {
			Environment yaml.Node `yaml:"environment"`
		} `yaml:"services"`
	}
	raw := readFile(t, "docker-compose.yml")
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, s := range doc.Services {
		env := map[string]string{}
		switch s.Environment.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(s.Environment.Content); i += 2 {
				env[s.Environment.Content[i].Value] = s.Environment.Content[i+1].Value
			}
		case yaml.SequenceNode:
			for _, n := range s.Environment.Content {
				k, v, _ := strings.Cut(n.Value, "=")
				env[k] = v
			}
		}
		for k, v := range env {
			if secretName.MatchString(k) {
				checked++
				if !strings.Contains(v, "${") {
					t.Errorf("%s: %s has a literal value; use ${VAR} from .env", name, k)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d secret-named variables found; the scan is not looking where it should", checked)
	}
	for _, m := range urlPassword.FindAllStringSubmatch(raw, -1) {
		if !strings.HasPrefix(m[1], "${") {
			t.Errorf("URL with a literal password: %s", m[0])
		}
	}
}

// composeVar matches ${VAR…} and $VAR, but not the $$ escape (a literal $ for the container's shell).
var composeVar = regexp.MustCompile(`(^|[^$])\$(\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))`)

// composeFiles are the stack's compose files: docker-compose.yml and the optional overrides loaded on top of it.
var composeFiles = []string{"docker-compose.yml", "docker-compose.sasl-ssl.yml"}

// Every variable the compose files read is documented in .env.example, and .env.example documents nothing else
// but COMPOSE_FILE, compose's own variable that turns the overrides on.
func TestComposeVariablesDocumented(t *testing.T) {
	env := readEnvFile(t, ".env.example")
	used := map[string]bool{"COMPOSE_FILE": true}
	for _, file := range composeFiles {
		for _, line := range strings.Split(readFile(t, file), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range composeVar.FindAllStringSubmatch(line, -1) {
				used[m[3]+m[4]] = true
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d variables in docker-compose.yml; the scan is broken", len(used))
	}
	for v := range used {
		if _, ok := env.values[v]; !ok {
			t.Errorf("the compose files use $%s, which .env.example does not document", v)
		}
	}
	for _, k := range env.keys {
		if !used[k] {
			t.Errorf(".env.example documents %s, which no compose file uses", k)
		}
	}
}

// listenerMap parses a comma-separated NAME://addr or NAME:PROTOCOL list.
func listenerMap(list, sep string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(list, ",") {
		name, v, _ := strings.Cut(strings.TrimSpace(l), sep)
		out[name] = v
	}
	return out
}

// docker-compose.sasl-ssl.yml adds a SASL_SSL listener for devices and changes nothing else: it has to repeat
// the base file's listener lists (compose replaces a variable, it can't append to one), so the copies must agree.
// The broker it configures runs for real in internal/testenv (TestApacheKafkaSASLSSLFromCompose) and end to end
// in internal/e2e (TestSASLSSLEndToEnd).
func TestComposeSASLSSLOverride(t *testing.T) {
	envFile := testEnvFile(t)
	base, err := loadComposeFiles(t, envFile, composeFiles[:1])
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadComposeFiles(t, envFile, composeFiles)
	if err != nil {
		t.Fatalf("docker-compose.yml + docker-compose.sasl-ssl.yml do not load: %v", err)
	}
	baseEnv, env := envOf(base.Services["kafka"]), envOf(p.Services["kafka"])
	// .env.example's commented COMPOSE_FILE line must not turn the override on by itself.
	if strings.Contains(baseEnv["KAFKA_LISTENERS"], "DEVICES") {
		t.Fatalf("docker-compose.yml alone has the DEVICES listener: %s", baseEnv["KAFKA_LISTENERS"])
	}
	for k, v := range baseEnv {
		if env[k] == v {
			continue
		}
		var sep string
		switch k {
		case "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS":
			sep = "://"
		case "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":
			sep = ":"
		default:
			t.Errorf("the override changes %s from %q to %q; it should only add the DEVICES listener", k, v, env[k])
			continue
		}
		was, now := listenerMap(v, sep), listenerMap(env[k], sep)
		for name, addr := range was {
			if now[name] != addr {
				t.Errorf("%s: %s is %q in docker-compose.yml but %q with the override", k, name, addr, now[name])
			}
		}
		if len(now) != len(was)+1 || now["DEVICES"] == "" {
			t.Errorf("%s = %q: want docker-compose.yml's entries and DEVICES", k, env[k])
		}
	}
	if got := listenerMap(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], ":")["DEVICES"]; got != "SASL_SSL" {
		t.Errorf("DEVICES speaks %q, want SASL_SSL", got)
	}
	// Advertised under the host name the devices use, on the published port.
	if got := listenerMap(env["KAFKA_ADVERTISED_LISTENERS"], "://")["DEVICES"]; got != "localhost:9094" {
		t.Errorf("DEVICES advertised as %q, want KAFKA_EXTERNAL_HOST:KAFKA_SASL_SSL_PORT (localhost:9094)", got)
	}
	published := false
	for _, port := range p.Services["kafka"].Ports {
		published = published || (port.Target == 9094 && port.Published == "9094")
	}
	if !published {
		t.Error("the DEVICES listener (9094) is not published on KAFKA_SASL_SSL_PORT")
	}
	// The image's quirks (docker/resources of apache/kafka): a listener named *SSL makes its start script demand JKS
	// keystore variables, and it drops any KAFKA_* value containing "=".
	if strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "SSL://") {
		t.Error("a listener name ends in SSL: the apache/kafka image would then require KAFKA_SSL_KEYSTORE_FILENAME")
	}
	for k, v := range env {
		if strings.HasPrefix(k, "KAFKA_") && strings.Contains(v, "=") {
			t.Errorf("%s contains '=': the apache/kafka image silently drops such values", k)
		}
	}
	// The keystore is a file in the read-only certificate mount from KAFKA_TLS_DIR.
	keystore := env["KAFKA_LISTENER_NAME_DEVICES_SSL_KEYSTORE_LOCATION"]
	mounted := false
	for _, v := range p.Services["kafka"].Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(keystore, v.Target+"/") {
			mounted = v.ReadOnly && v.Source == "/etc/benchpipe/kafka-tls"
		}
	}
	if !mounted {
		t.Errorf("keystore %s is not in a read-only bind mount of KAFKA_TLS_DIR", keystore)
	}
	if env["KAFKA_LISTENER_NAME_DEVICES_SASL_ENABLED_MECHANISMS"] != "SCRAM-SHA-512" {
		t.Error("DEVICES should accept SCRAM-SHA-512 only")
	}
}

// loadComposeFiles is loadCompose for a list of files, later ones overriding earlier ones (docker compose -f a -f b).
func loadComposeFiles(t *testing.T, envFile string, files []string) (*types.Project, error) {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, path(t, f))
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithName("benchpipe"), cli.WithWorkingDirectory(root(t)),
		cli.WithEnvFiles(envFile), cli.WithDotEnv)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// sink api only reads agents and jobs, so it connects as the read-only role the roles script creates, not as the
// owner the sink writes with (a superuser in the timescaledb image).
func TestComposeSinkAPIReadsOnly(t *testing.T) {
	p := mustLoadCompose(t)
	u, err := url.Parse(envOf(p.Services["sink-api"])["DATABASE_URL"])
	if err != nil {
		t.Fatalf("sink-api DATABASE_URL: %v", err)
	}
	db := envOf(p.Services["timescaledb"])
	if u.User.Username() != db["GRAFANA_DB_USER"] || u.User.Username() == db["POSTGRES_USER"] {
		t.Errorf("sink-api connects as %q, want the read-only role %q (not the owner %q)", u.User.Username(), db["GRAFANA_DB_USER"], db["POSTGRES_USER"])
	}
	if pw, _ := u.User.Password(); pw != db["GRAFANA_DB_PASSWORD"] {
		t.Error("sink-api's password is not the read-only role's")
	}
}
