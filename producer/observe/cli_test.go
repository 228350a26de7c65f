package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
)

// syncBuffer is a bytes.Buffer the command writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = observe.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandUsage(t *testing.T) {
	code, out, errs := run("--help")
	if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: producer observe [flags]\n") {
		t.Fatalf("--help: exit %d, stderr %q, stdout %q", code, errs, out)
	}
	for _, want := range []string{"--node NAME=CONNSTRING", "--pgpool CONNSTRING", "--interval D", "(default 1s)", "(default 800ms)", `(default "127.0.0.1:9188")`, "--duration D", "(default 0s)", "--json"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "producer observe: nothing to observe: give at least one node or a Pgpool-II\n"},
		{[]string{"--nod", "x"}, "producer observe: unknown flag --nod (did you mean --node?)\n"},
		{[]string{"--node", "a=postgres://127.0.0.1/x", "--interval", "1s", "--timeout", "1s"}, "producer observe: the probe timeout (1s) must be shorter than the interval (1s)\n"},
		{[]string{"--node", "a=postgres://127.0.0.1/x", "--node", "a=postgres://127.0.0.2/x"}, "producer observe: node name \"a\" given twice\n"},
		{[]string{"--node", "a="}, "producer observe: --node \"a=\": node a has no connection string\n"},
		{[]string{"postgres://u:s3cretpw@db/x"}, "producer observe: unexpected argument \"postgres://u@db/x\" (give nodes with --node)\n"},
	} {
		code, out, errs := run(c.args...)
		if want := c.want + "Run 'producer observe --help' for usage.\n"; code != 2 || out != "" || errs != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errs, want)
		}
	}
}

// A node that cannot be reached is reported as down, every round as JSON, with the password of its connection
// string nowhere in the output.
func TestCommandUnreachableNodeNoSecret(t *testing.T) {
	const secret = "s3cretpw"
	t.Setenv("PGPASSWORD", "envsecret42")
	code, out, errs := run("--node", "a=postgres://u:"+secret+"@127.0.0.1:1/x", "--node", "host=127.0.0.1 port=1 user=u password=kvsecret7",
		"--duration", "1500ms", "--listen", "", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, s := range []string{secret, "envsecret42", "kvsecret7"} {
		if strings.Contains(out+errs, s) {
			t.Errorf("output holds the password %s:\n%s\n%s", s, out, errs)
		}
	}
	if !strings.Contains(errs, "observing a (127.0.0.1:1)") || !strings.Contains(errs, "observing 127.0.0.1:1 (127.0.0.1:1)") {
		t.Errorf("stderr %q does not name the nodes by address", errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d rounds in 1.5 s at 1 s, want 2:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var o schema.Observation
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatal(err)
		}
		if err := checkObservation(o); err != nil {
			t.Errorf("round %d: %v", i, err)
		}
		if len(o.Nodes) != 2 || o.Nodes[0].Up || o.Nodes[1].Up || o.Primaries != 0 {
			t.Errorf("round %d: %+v, want both nodes down", i, o.Nodes)
		}
		wantEvents := 2
		if i > 0 {
			wantEvents = 0 // down is reported when it starts
		}
		if len(o.Events) != wantEvents {
			t.Errorf("round %d: events %+v, want %d", i, o.Events, wantEvents)
		}
	}
}

// /metrics carries the cluster's figures: is_replica 0 for the primary and 1 for the standby, one primary, Pgpool's
// backends up; after a promotion two primaries and one split-brain event, also printed as a line.
func TestCommandMetrics(t *testing.T) {
	c := testenv.StartPGCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- observe.Run(ctx, []string{"--node", "node0=" + c.Primary.URL("postgres"), "--node", "node1=" + c.Standby.URL("postgres"),
			"--pgpool", c.Pool.URL("postgres"), "--listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	})
	addr := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no metrics address on stderr: %q", stderr.String())
		}
	}
	scrape := func(want ...string) {
		t.Helper()
		var body string
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			missing := 0
			for _, w := range want {
				if !strings.Contains(body, "\n"+w+"\n") {
					missing++
				}
			}
			if missing == 0 {
				return
			}
			if time.Now().After(deadline) {
				break
			}
		}
		for _, w := range want {
			if !strings.Contains(body, "\n"+w+"\n") {
				t.Errorf("/metrics lacks %q", w)
			}
		}
		t.Logf("/metrics:\n%s", body)
	}
	scrape(`benchpipe_cluster_node_up{node="node0"} 1`, `benchpipe_cluster_node_up{node="node1"} 1`,
		`benchpipe_cluster_node_is_replica{node="node0"} 0`, `benchpipe_cluster_node_is_replica{node="node1"} 1`,
		`benchpipe_cluster_node_timeline{node="node1"} 1`, `benchpipe_cluster_primaries 1`,
		`benchpipe_cluster_pool_node_up{node="node0",node_id="0"} 1`, `benchpipe_cluster_pool_node_up{node="node1",node_id="1"} 1`,
		`benchpipe_cluster_events_total{kind="split_brain"} 0`)
	if err := c.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	scrape(`benchpipe_cluster_node_is_replica{node="node1"} 0`, `benchpipe_cluster_primaries 2`, `benchpipe_cluster_node_timeline{node="node1"} 2`,
		`benchpipe_cluster_events_total{kind="split_brain"} 1`, `benchpipe_cluster_events_total{kind="role_change"} 1`)
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z split_brain primaries=node0,node1$`).MatchString(stdout.String()) {
		t.Errorf("stdout %q lacks the split-brain line", stdout.String())
	}
	t.Logf("events printed:\n%s", stdout.String())
}

// Without --node and --pgpool, the cluster is the configuration's producer.pgbench.observe, its interval and
// timeout too unless given as flags; a password from ${VAR} is nowhere in the output, and a problem in the
// section is reported with its line.
func TestCommandFromConfig(t *testing.T) {
	const secret = "cfgsecret99"
	t.Setenv("OBS_PW", secret)
	dir := t.TempDir()
	write := func(name, yaml string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", `producer:
  pgbench:
    observe:
      nodes:
        db2: "host=127.0.0.1 port=1 user=u password=${OBS_PW}"
        db1: postgres://u:${OBS_PW}@127.0.0.1:1/x
      interval: 400ms
      timeout: 300ms
`)
	rounds := func(out string) []schema.Observation {
		t.Helper()
		var obs []schema.Observation
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var o schema.Observation
			if err := json.Unmarshal([]byte(l), &o); err != nil {
				t.Fatalf("%v: %q", err, l)
			}
			if len(o.Nodes) != 2 || o.Nodes[0].Node != "db1" || o.Nodes[1].Node != "db2" || o.Nodes[0].Up || o.Nodes[1].Up {
				t.Errorf("round %+v, want db1 and db2 (name order), both down", o.Nodes)
			}
			obs = append(obs, o)
		}
		return obs
	}
	for _, tc := range []struct {
		args   []string
		rounds int
	}{
		{[]string{"--duration", "1s"}, 3},                                               // the file's 400 ms: rounds at 0, 0.4 and 0.8 s
		{[]string{"--duration", "1500ms", "--interval", "1s", "--timeout", "500ms"}, 2}, // the flags' 1 s: at 0 and 1 s
	} {
		code, out, errs := run(append([]string{"--config", good, "--listen", "", "--json"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", tc.args, code, errs)
		}
		if strings.Contains(out+errs, secret) {
			t.Errorf("%q: the password is in the output", tc.args)
		}
		if got := rounds(out); len(got) != tc.rounds {
			t.Errorf("%q: %d rounds, want %d", tc.args, len(got), tc.rounds)
		}
	}

	bad := write("bad.yaml", "producer:\n  pgbench:\n    observe:\n      nodes:\n        db1: postgres://127.0.0.1:1/x\n      interval: 1s\n      timeout: 2s\n")
	code, out, errs := run("--config", bad, "--listen", "", "--duration", "1s")
	if want := "producer observe: configuration: " + bad + ":7: producer.pgbench.observe.timeout: 2s must be shorter than interval (1s): a round's probes end before the next round\n"; code != 2 || out != "" || errs != want {
		t.Errorf("bad section: exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errs, want)
	}
	// Flags win over the file: its cluster is not read when a node is given.
	code, _, errs = run("--config", bad, "--listen", "", "--duration", "100ms", "--node", "a=postgres://127.0.0.1:1/x")
	if code != 0 {
		t.Errorf("with --node: exit %d, stderr %q", code, errs)
	}
}
