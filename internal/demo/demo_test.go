package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Two demos against one $DATABASE_URL: both succeed and the second adds its runs (an MQTT run, a pgbench run and
// a perftool result each). Each demo starts an empty Kafka (kfake) while the sink's stored positions stay in the
// database, and with one partition the second demo's records take the offsets the first one's had: the sink must
// see that as a reset, not as records it has already written. That was why a second `make demo` failed ("not
// finished in the database after 60 s"): this test fails so at 34aba5a^, before the sink keyed its stored positions
// by Kafka log (issue 11), and passes since. Then the demo's server answers the viewer's runs
// query over that database through the GraphQL stand-in, as Hasura's role.
func TestTwoDemosInARowThenServe(t *testing.T) {
	testenv.Tool(t, "pgbench", "apt-get install -y postgresql-contrib")
	d := testenv.Deployed(t)
	t.Setenv("DATABASE_URL", d.OwnerURL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	counts := func() (runs, kinds, perftool int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.runs WHERE status = 'ok'), (SELECT count(DISTINCT kind) FROM public.runs),
			(SELECT count(*) FROM public.perftool WHERE publisher IN (SELECT host_name FROM public.runs WHERE kind = 'mqtt'))`).Scan(&runs, &kinds, &perftool); err != nil {
			t.Fatal(err)
		}
		return
	}
	for i := 1; i <= 2; i++ {
		var out testenv.Buffer
		if err := run(ctx, options{duration: 2 * time.Second, rate: 500}, &out); err != nil {
			t.Fatalf("demo %d: %v\n%s", i, err, out.String())
		}
		if !strings.Contains(out.String(), "status                                              ok") {
			t.Fatalf("demo %d printed no ok run:\n%s", i, out.String())
		}
		if runs, kinds, perftool := counts(); runs != 2*i || kinds != 2 || perftool != i {
			t.Fatalf("after demo %d: %d ok runs of %d kinds, %d perftool results; want %d, 2, %d", i, runs, kinds, perftool, 2*i, i)
		}
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
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	_, _ = got.ReadFrom(resp.Body)
	var want, have any
	_ = json.Unmarshal([]byte(`{"data":{"runs_aggregate":{"aggregate":{"count":4}},"kinds":[{"kind":"mqtt"},{"kind":"pgbench"}]}}`), &want)
	if err := json.Unmarshal(got.Bytes(), &have); err != nil || !jsonEqual(have, want) {
		t.Fatalf("GraphQL answer %s", got.String())
	}
	if v.hasViewer {
		t.Error("an empty viewer directory was taken for a built viewer")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
