package observe_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
)

// producer observe --record (issue 15 item 4, "optionally recording them") on a real primary, standby and
// Pgpool-II, publishing through the spool to Kafka (kfake): exactly one run of kind observe — run_started, an
// observation per round numbered 1..n in Kafka order, the first and last with the server's facts (the last with
// their change), run_finished ok at n+1 — and a promotion during it is a split brain in the records and in the
// command's last line. No password of the nodes' connection strings is in any record or output.
func TestRecordRun(t *testing.T) {
	c := testenv.StartPGCluster(t)
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "benchpipe.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nproducer:\n  spool_dir: %q\n  device: observer-1\n", brokers[0], filepath.Join(dir, "spool"))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "recsecret31"
	withPW := func(url string) string { return strings.Replace(url, "://postgres@", "://postgres:"+secret+"@", 1) }
	// The cluster's servers trust loopback: the password is carried, never checked, and must show nowhere.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- observe.Run(ctx, []string{"--config", cfgFile, "--record", "--name", "window", "--tag", "site=lab", "--listen", "",
			"--interval", "300ms", "--timeout", "250ms",
			"--node", "node0=" + withPW(c.Primary.URL("postgres")), "--node", "node1=" + withPW(c.Standby.URL("postgres")),
			"--pgpool", withPW(c.Pool.URL("postgres"))}, out, errs)
	}()
	time.Sleep(1200 * time.Millisecond)
	if err := c.Promote(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	krs := testenv.ConsumeAll(t, brokers, "benchpipe.records")
	var recs []schema.Record
	for _, kr := range krs {
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("%v: %s", err, kr.Value)
		}
		if strings.Contains(string(kr.Value), secret) {
			t.Errorf("record %s %d holds the password", r.Type, r.Seq)
		}
		recs = append(recs, r)
	}
	if len(recs) < 6 {
		t.Fatalf("%d records, want run_started, ≥ 4 observations and run_finished", len(recs))
	}
	first, last := recs[0], recs[len(recs)-1]
	if first.Type != schema.TypeRunStarted || first.Started.Kind != observe.KindObserve || first.Started.Name != "window" ||
		first.Started.Tags["site"] != "lab" || first.Started.Tags["device"] != "observer-1" || first.Started.Target.Port != c.Pool.Port {
		t.Errorf("first record %+v, want run_started of kind observe named window, tagged, target Pgpool's port %d", first.Started, c.Pool.Port)
	}
	if last.Type != schema.TypeRunFinished || last.Finished.Status != schema.StatusOK || last.Seq != int64(len(recs)-1) {
		t.Errorf("last record %s seq %d status %v, want run_finished ok at seq %d", last.Type, last.Seq, last.Finished, len(recs)-1)
	}
	obs := recs[1 : len(recs)-1]
	splitBrains := 0
	for i, r := range obs {
		if r.Type != schema.TypeObservation || r.Seq != int64(i+1) || r.RunID != first.RunID {
			t.Fatalf("record %d: %s seq %d run %s, want observation seq %d of run %s", i+1, r.Type, r.Seq, r.RunID, i+1, first.RunID)
		}
		if (r.Observation.Server != nil) != (i == 0 || i == len(obs)-1) {
			t.Errorf("observation %d: server facts %v; only the first and last carry them", i+1, r.Observation.Server != nil)
		}
		for _, e := range r.Observation.Events {
			if e.Kind == schema.EventSplitBrain {
				splitBrains++
			}
		}
	}
	if f := obs[len(obs)-1].Observation.Server; f == nil || f.Delta == nil || f.Version == "" {
		t.Errorf("last observation's facts %+v: want the version and the change over the run", f)
	}
	if splitBrains != 1 || obs[len(obs)-1].Observation.Primaries != 2 {
		t.Errorf("%d split-brain events, %d primaries at the end; want 1 and 2 after the promotion", splitBrains, obs[len(obs)-1].Observation.Primaries)
	}
	wantLast := fmt.Sprintf("run %s: %d rounds, ", first.RunID, len(obs))
	if !strings.Contains(out.String(), wantLast) || !strings.Contains(out.String(), "; split brain (2 primaries at once)\n") {
		t.Errorf("stdout lacks %q … split brain:\n%s", wantLast, out)
	}
	if strings.Contains(out.String()+errs.String(), secret) {
		t.Errorf("the password is in the output:\n%s\n%s", out, errs)
	}
}

// --name and --tag describe a recorded run: without --record they are a usage error.
func TestRecordFlagsNeedRecord(t *testing.T) {
	code, out, errs := run("--node", "a=postgres://127.0.0.1:1/x", "--name", "w")
	if want := "producer observe: --name and --tag name a recorded run: add --record\nRun 'producer observe --help' for usage.\n"; code != 2 || out != "" || errs != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errs, want)
	}
}
