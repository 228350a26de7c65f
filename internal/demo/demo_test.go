package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/fleetcli"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Two demos against one $DATABASE_URL: both succeed and the second adds its runs (an MQTT run, a pgbench run and
// a perftool result each). Each demo starts an empty Kafka (kfake) while the sink's stored positions stay in the
// database, and with one partition the second demo's records take the offsets the first one's had: the sink must
// see that as a reset, not as records it has already written. That was why a second `make demo` failed ("not
// finished in the database after 60 s"): this test fails so at 34aba5a^, before the sink keyed its stored positions
// by Kafka log (issue 11), and passes since.
//
// Each demo also runs the fleet (issue 14): its two agents come online and the job group launched on them by tag
// (site=demo) through the stand-in with the operator token finishes ok, two jobs and two MQTT runs with the group's
// id. The second demo serves: the `producer launch` command line it prints works against it (run here as printed,
// shorter), anonymous cannot launch, and Ctrl-C (ctx) ends it. Then a server over that database answers the
// viewer's runs query through the GraphQL stand-in, as Hasura's role.
func TestTwoDemosInARowThenServe(t *testing.T) {
	testenv.Tool(t, "pgbench", "apt-get install -y postgresql-contrib")
	d := testenv.Deployed(t)
	t.Setenv("DATABASE_URL", d.OwnerURL)
	t.Setenv(fleetcli.EnvOperatorToken, "") // the demo sets it for its launch; restored when the test ends
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	counts := func() (runs, kinds, perftool int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.runs WHERE status = 'ok'), (SELECT count(DISTINCT kind) FROM public.runs),
			(SELECT count(*) FROM public.perftool WHERE publisher IN (SELECT host_name FROM public.runs WHERE kind = 'mqtt'))`).Scan(&runs, &kinds, &perftool); err != nil {
			t.Fatal(err)
		}
		return
	}
	// fleet checks what the demos' fleets left: groups job groups of two jobs each, every job finished ok with its
	// MQTT run (ok, named, tagged, with the group's id) on one of the two agents; both agents known with their tag.
	fleet := func(groups int) {
		t.Helper()
		if n := count(`SELECT count(*) FROM public.job_groups WHERE jobs = 2 AND finished = 2 AND ok = 2 AND failed = 0 AND aborted = 0
			AND rejected = 0 AND expired = 0 AND runs = 2 AND ops_rate > 0`); n != groups {
			t.Errorf("%d job groups of two jobs finished ok with two runs; want %d", n, groups)
		}
		if n := count("SELECT count(*) FROM public.job_groups"); n != groups {
			t.Errorf("%d job groups; want %d", n, groups)
		}
		if n := count(`SELECT count(*) FROM public.job_status WHERE state = 'finished' AND status = 'ok' AND agent IN ('demo-pi-1', 'demo-pi-2')`); n != 2*groups {
			t.Errorf("%d jobs finished ok on the demo's agents; want %d", n, 2*groups)
		}
		if n := count(`SELECT count(*) FROM public.runs r JOIN public.job_status j ON j.run_id = r.run_id AND j.group_id = r.group_id
			WHERE r.kind = 'mqtt' AND r.status = 'ok' AND r.name = 'make demo fleet' AND r.tags->>'source' = 'demo' AND r.tags->>'site' = 'demo'`); n != 2*groups {
			t.Errorf("%d ok MQTT runs of the demo's jobs; want %d", n, 2*groups)
		}
		if n := count(`SELECT count(*) FROM public.agents WHERE name IN ('demo-pi-1', 'demo-pi-2') AND tags = '{"site": "demo"}'`); n != 2 {
			t.Errorf("%d demo agents with tag site=demo; want 2", n)
		}
	}
	for i := 1; i <= 2; i++ {
		var out testenv.Buffer
		o := options{duration: 2 * time.Second, rate: 500}
		var cmdline string
		if i == 1 {
			if err := run(ctx, o, &out); err != nil {
				t.Fatalf("demo %d: %v\n%s", i, err, out.String())
			}
		} else {
			o.serve, o.addr, o.viewer = true, "127.0.0.1:0", t.TempDir()
			cmdline = serveDemo(t, o, &out)
		}
		for _, want := range []string{"status                                              ok",
			"==> agents demo-pi-1, demo-pi-2 online; producer launch --tag site=demo",
			"2 jobs, 2 finished ok, 2 runs, summed throughput"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("demo %d printed no %q:\n%s", i, want, out.String())
			}
		}
		groups, okRuns := i, 4*i // per demo: its MQTT, pgbench and two fleet runs
		if cmdline != "" {
			groups, okRuns = i+1, okRuns+2 // and the group launched by the printed command line
		}
		if runs, kinds, perftool := counts(); runs != okRuns || kinds != 2 || perftool != i {
			t.Fatalf("after demo %d: %d ok runs of %d kinds, %d perftool results; want %d, 2, %d", i, runs, kinds, perftool, okRuns, i)
		}
		fleet(groups)
	}

	v, err := newViewerServer(ctx, t.TempDir(), d.HasuraURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = v.http.Serve(ln) }()
	body := `{"query":"query Runs($where: runs_bool_exp!) { runs_aggregate(where: $where) { aggregate { count } } kinds: runs(distinct_on: kind, order_by: {kind: asc}) { kind } }","variables":{"where":{"status":{"_eq":"ok"}}}}`
	got := post(t, "http://"+ln.Addr().String()+"/v1/graphql", body)
	var want, have any
	_ = json.Unmarshal([]byte(`{"data":{"runs_aggregate":{"aggregate":{"count":10}},"kinds":[{"kind":"mqtt"},{"kind":"pgbench"}]}}`), &want)
	if err := json.Unmarshal([]byte(got), &have); err != nil || !jsonEqual(have, want) {
		t.Fatalf("GraphQL answer %s", got)
	}
	if v.hasViewer {
		t.Error("an empty viewer directory was taken for a built viewer")
	}
}

// serveDemo runs a serving demo until it prints "Ctrl-C to stop."; then, while it serves, checks that anonymous
// cannot launch and runs the `producer launch` command line it printed (its --duration shortened to 1s) to the
// end; then ends it as Ctrl-C would and returns that command line.
func serveDemo(t *testing.T, o options, out *testenv.Buffer) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, out) }()
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C to stop.") {
		select {
		case err := <-done:
			t.Fatalf("the serving demo ended before serving: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the serving demo did not serve in 120 s:\n%s", out.String())
		}
	}
	graphql := regexp.MustCompile(`GraphQL \(the Hasura stand-in: anonymous, or operator with the token\) is on (http://\S+/v1/graphql)`).FindStringSubmatch(out.String())
	launch := regexp.MustCompile(`(?m)^  BENCHPIPE_OPERATOR_TOKEN=([0-9a-f]{32}) go run ./producer launch (.*)$`).FindStringSubmatch(out.String())
	if graphql == nil || launch == nil || !strings.Contains(out.String(), "Operator token of this demo: "+launch[1]+"\n") {
		t.Fatalf("the serving demo printed no GraphQL URL, token or launch command:\n%s", out.String())
	}
	if got := post(t, graphql[1], `{"query":"mutation { launchJobs(kind: \"mqtt\", spec: {}, all: true) { group_id } }"}`); got != `{"errors":[{"extensions":{"code":"validation-failed","path":"$"},"message":"no mutations exist"}]}` {
		t.Errorf("anonymous launch answered %s", got)
	}
	args := shellSplit(t, launch[2])
	for i := range args {
		if i > 0 && args[i-1] == "--duration" {
			args[i] = "1s"
		}
	}
	t.Setenv(fleetcli.EnvOperatorToken, launch[1])
	var stdout, stderr testenv.Buffer
	if code := fleetcli.RunLaunch(context.Background(), args, &stdout, &stderr); code != 0 || !regexp.MustCompile(`group \S+: 2 of 2 jobs finished ok\n$`).MatchString(stdout.String()) {
		t.Fatalf("the printed producer launch %q exited %d:\n%s%s", args, code, stdout.String(), stderr.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil || !strings.HasSuffix(out.String(), "\nstopping\n") {
			t.Fatalf("the serving demo ended with %v:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the serving demo did not stop within 30 s of Ctrl-C")
	}
	return launch[2]
}

// shellSplit splits a command line as printed by shellJoin (words, single-quoted words).
func shellSplit(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	for _, m := range regexp.MustCompile(`'((?:[^']|'\\'')*)'|(\S+)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			words = append(words, m[2])
		} else {
			words = append(words, strings.ReplaceAll(m[1], `'\''`, "'"))
		}
	}
	return words
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	_, _ = got.ReadFrom(resp.Body)
	return strings.TrimSpace(got.String())
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
