package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
)

// fleetBins are the programs as an operator installs them: go build of ./producer and ./sink.
type fleetBins struct{ producer, sink string }

func buildFleetBins(t *testing.T) fleetBins {
	t.Helper()
	dir := t.TempDir()
	b := fleetBins{producer: filepath.Join(dir, "producer"), sink: filepath.Join(dir, "sink")}
	for bin, pkg := range map[string]string{b.producer: "../../producer", b.sink: "../../sink"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return b
}

// fleetAgent is one `producer agent` service: its name, producer.tags and configuration file.
type fleetAgent struct {
	name string
	tags map[string]string
	cfg  string
	proc *proc
}

// fleetWorld is the deployment the operator drives: an as-deployed PostgreSQL, Kafka, `sink run` and `sink api`
// (binaries), the Hasura stand-in in process, and the agents (binaries).
type fleetWorld struct {
	t      *testing.T
	bins   fleetBins
	dir    string
	kc     *testenv.KafkaCluster
	cfg    config.Config // as the sink's file has it, but with the database URL the sink gets from its environment
	db     *testenv.Deployment
	conn   *pgx.Conn // the test's own inspection (the cluster's admin; no deployed program uses it)
	token  string    // BENCHPIPE_OPERATOR_TOKEN
	secret string    // BENCHPIPE_ACTION_SECRET
	opFile string    // the operator's configuration: graphql.url only
	gqlURL string
	sink   *proc    // sink run
	api    *proc    // sink api
	procs  []*proc  // every process started, for the secrets check
	cliOut []string // every CLI command's output, for the secrets check
	agents []*fleetAgent
}

// proc is one long-running program of the deployment.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testenv.Buffer // stdout and stderr
	done chan struct{}
	code int
}

func randomSecret(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// progEnv is the test's environment without the variables the programs get only where the operator sets them, plus
// extra.
func progEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "BENCHPIPE_OPERATOR_TOKEN", "BENCHPIPE_ACTION_SECRET", "DATABASE_URL", config.EnvConfigFile:
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// start starts a program of the deployment; it is killed when the test ends if it still runs.
func (w *fleetWorld) start(name string, environ []string, bin string, args ...string) *proc {
	w.t.Helper()
	p := &proc{name: name, out: &testenv.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = environ
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	w.procs = append(w.procs, p)
	t := w.t
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", p.name, p.cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s did not stop within 40s of SIGTERM:\n%s", p.name, p.out.String())
	}
	return p.code
}

// run runs a command to its end and returns its exit status, stdout and stderr.
func (w *fleetWorld) run(environ []string, bin string, args ...string) (int, string, string) {
	w.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		w.t.Fatalf("%s %q: %v", bin, args, err)
	}
	w.cliOut = append(w.cliOut, stdout.String(), stderr.String())
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// operator runs `producer <args>` on the operator's machine: the operator's file, and the token in the
// environment when token is not empty.
func (w *fleetWorld) operator(token string, args ...string) (int, string, string) {
	w.t.Helper()
	environ := progEnv()
	if token != "" {
		environ = progEnv("BENCHPIPE_OPERATOR_TOKEN=" + token)
	}
	return w.run(environ, w.bins.producer, append([]string{args[0], "--config", w.opFile}, args[1:]...)...)
}

// writeYAML writes v as the YAML file name in the world's directory.
func (w *fleetWorld) writeYAML(name string, v any) string {
	w.t.Helper()
	raw, err := yaml.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// newFleetWorld sets up the deployment as an operator would: `sink topics apply`, `sink migrate`, `sink run`,
// `sink api`, the GraphQL endpoint, then the agents, and waits until every agent is online.
func newFleetWorld(t *testing.T, kb testenv.KafkaBackend, bins fleetBins, agents []*fleetAgent) *fleetWorld {
	t.Helper()
	w := &fleetWorld{t: t, bins: bins, dir: t.TempDir(), token: randomSecret("op-token-"), secret: randomSecret("action-secret-"),
		agents: agents}
	cfg := config.Default()
	cfg.Topics[0].Partitions = 3
	if kb.Name == testenv.BackendKfake {
		// A Kafka with no topics: `sink topics apply` creates them, as in a fresh deployment.
		w.kc = kb.Start(t, nil)
	} else {
		// The shared broker: the test's topics under unique names, created here so they are deleted at the end;
		// `sink topics apply` then finds them as it would after a first deployment.
		want := map[string]int32{cfg.Sink.DeadLetterTopic: 1}
		for _, tp := range cfg.Topics {
			want[tp.Name] = tp.Partitions
		}
		w.kc = kb.Start(t, want)
	}
	kc := w.kc
	cfg.Kafka.Brokers = kc.Brokers
	for i := range cfg.Topics {
		cfg.Topics[i].Name = kc.Topic(cfg.Topics[i].Name)
	}
	cfg.Producer.Topic = kc.Topic(cfg.Producer.Topic)
	cfg.Sink.DeadLetterTopic = kc.Topic(cfg.Sink.DeadLetterTopic)
	cfg.Sink.Group = kc.Group(cfg.Sink.Group)
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	cfg.Sink.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Fleet.JobsTopic = kc.Topic(cfg.Fleet.JobsTopic)
	cfg.Fleet.AgentsTopic = kc.Topic(cfg.Fleet.AgentsTopic)
	cfg.Fleet.Heartbeat = 300 * time.Millisecond
	cfg.Fleet.APIAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))

	w.db = testenv.Deployed(t)
	// The sink's file names ${DATABASE_URL}; the password is in the sink's and sink api's environment only.
	cfg.Sink.DatabaseURL = "${DATABASE_URL}"
	sinkFile := w.writeYAML("sink.yaml", cfg)
	cfg.Sink.DatabaseURL = w.db.OwnerURL
	w.cfg = cfg
	sinkEnv := progEnv("DATABASE_URL=" + w.db.OwnerURL)

	code, out, errOut := w.run(sinkEnv, bins.sink, "--config", sinkFile, "topics", "apply")
	if code != 0 {
		t.Fatalf("sink topics apply: exit %d\n%s%s", code, out, errOut)
	}
	if kb.Name == testenv.BackendKfake { // it created the records, dead-letter and both fleet topics, nothing else
		var created []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "create" {
				created = append(created, strings.TrimSuffix(f[1], ":"))
			}
		}
		slices.Sort(created)
		want := []string{cfg.Topics[1].Name, cfg.Topics[2].Name, cfg.Topics[0].Name, cfg.Sink.DeadLetterTopic}
		slices.Sort(want)
		if !slices.Equal(created, want) {
			t.Fatalf("sink topics apply created %q, want %q:\n%s", created, want, out)
		}
	}
	if code, out, errOut := w.run(sinkEnv, bins.sink, "--config", sinkFile, "migrate"); code != 0 {
		t.Fatalf("sink migrate: exit %d\n%s%s", code, out, errOut)
	}
	w.sink = w.start("sink run", sinkEnv, bins.sink, "--config", sinkFile, "run")
	w.api = w.start("sink api", progEnv("DATABASE_URL="+w.db.GrafanaURL, "BENCHPIPE_OPERATOR_TOKEN="+w.token,
		"BENCHPIPE_ACTION_SECRET="+w.secret), bins.sink, "--config", sinkFile, "api")
	apiURL := "http://" + cfg.Fleet.APIAddr
	w.waitHTTP(w.sink, "http://"+cfg.Sink.HTTPAddr+"/readyz")
	w.waitHTTP(w.api, apiURL+"/healthz")

	// Hasura cannot run here (it ships as a Docker image): internal/hasurastub stands in for it, loaded with the
	// repository's metadata, over Hasura's own database role, in webhook mode against sink api's /auth and with the
	// actions' handler and secret from its environment, as deploy/ gives Hasura.
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	stub := hasurastub.New(t, w.db.HasuraURL, md, hasurastub.WithAuthHook(apiURL+"/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": apiURL, "BENCHPIPE_ACTION_SECRET": w.secret}))
	if bad := stub.InconsistentObjects(); len(bad) > 0 {
		t.Fatalf("Hasura metadata: %v", bad)
	}
	w.gqlURL = stub.URL
	w.opFile = w.writeYAML("operator.yaml", map[string]any{"graphql": map[string]any{"url": stub.URL}})

	if w.conn, err = pgx.Connect(context.Background(), w.db.AdminURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.conn.Close(context.Background()) })

	for _, a := range agents {
		c := cfg
		c.Sink.DatabaseURL = "" // an agent's file has no database: it reads the producer's sections only
		c.Producer.Device = a.name
		c.Producer.Tags = a.tags
		c.Producer.SpoolDir = filepath.Join(w.dir, "spool-"+a.name)
		a.cfg = w.writeYAML(a.name+".yaml", c)
		w.startAgent(a)
	}
	w.waitCount(60*time.Second, len(agents), `SELECT count(*) FROM agent_status WHERE online AND state = 'idle'`)
	return w
}

// startAgent starts a's service: `producer agent --config <its file> --name <name>`.
func (w *fleetWorld) startAgent(a *fleetAgent) {
	w.t.Helper()
	a.proc = w.start("producer agent "+a.name, progEnv(), w.bins.producer, "agent", "--config", a.cfg, "--name", a.name)
}

// waitHTTP waits until url answers 200, failing if p exits first.
func (w *fleetWorld) waitHTTP(p *proc, url string) {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			w.t.Fatalf("%s exited %d before %s answered:\n%s", p.name, p.code, url, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %s not ready within 60s (%v):\n%s", p.name, url, err, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCount waits until query (one count) answers want, and fails with the last answer otherwise.
func (w *fleetWorld) waitCount(timeout time.Duration, want int, query string, args ...any) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	var n int
	for {
		if err := w.conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
			w.t.Fatalf("%s: %v", query, err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %d after %v, want %d", query, n, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count answers a count query now.
func (w *fleetWorld) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// topicRecords is how many records topic holds (the sum of its partitions' end offsets).
func (w *fleetWorld) topicRecords(topic string) int64 {
	w.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.kc.Brokers...))
	if err != nil {
		w.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		w.t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// graphql posts a GraphQL request to the endpoint, with authorization as the Authorization header when not
// empty, and returns the answer's data and its errors' messages.
func (w *fleetWorld) graphql(authorization, query string, vars map[string]any) (json.RawMessage, []string) {
	w.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, w.gqlURL, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		w.t.Fatal(err)
	}
	var msgs []string
	for _, e := range out.Errors {
		msgs = append(msgs, e.Message)
	}
	return out.Data, msgs
}

// secrets are the deployment's secrets as they could show: each as given, and a password as a URL writes it.
func (w *fleetWorld) secrets() map[string]string {
	out := map[string]string{"the operator token": w.token, "the action secret": w.secret}
	for name, pass := range map[string]string{"the sink's database password": testenv.OwnerPassword, "Hasura's database password": testenv.HasuraPassword} {
		out[name] = pass
		if enc := url.UserPassword("u", pass).String(); strings.TrimPrefix(enc, "u:") != pass {
			out[name+" (URL-encoded)"] = strings.TrimPrefix(enc, "u:")
		}
	}
	return out
}
