package compare_test

// Item 4 of issue 17 with real runs: `producer mqtt` measures the embedded NATS MQTT target through a TCP proxy
// and publishes its records into kfake; the real sink writes them to PostgreSQL; `producer compare` reads them
// over the Hasura stand-in. Two runs through a proxy that forwards at once are identical; a third through a
// proxy that holds every byte for 50 ms each way has an injected slowdown that the gate must catch. The three run
// side by side.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/mqttload"
)

func TestInjectedSlowdownIsARegression(t *testing.T) {
	if testing.Short() {
		t.Skip("three real 35-second runs")
	}
	p := compare.NewTestPipeline(t)
	srv, err := target.Start(target.Options{ServerName: "compare-slowdown", Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	direct := testenv.StartDelayProxy(t, srv.MQTTAddr(), 0)
	slow := testenv.StartDelayProxy(t, srv.MQTTAddr(), 50*time.Millisecond)

	// The three runs measure at the same time, each with its own spool and MQTT topics: on a shared machine whose
	// load changes from minute to minute, runs one after another are not identical (two such runs once differed
	// by 3× in p99), runs side by side see the same machine, so the proxy's delay is the only difference.
	mqtt := func(name, proxy string) (uuid.UUID, error) {
		cfg := filepath.Join(t.TempDir(), "producer.yaml")
		yaml := fmt.Sprintf("kafka:\n  brokers: [%s]\nproducer:\n  spool_dir: %s\n  device: slowdown-test\n", strings.Join(p.Brokers, ", "), t.TempDir())
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			return uuid.Nil, err
		}
		var out, errOut strings.Builder
		start := time.Now()
		code := mqttload.Run(t.Context(), []string{"--config", cfg, "--broker", "tcp://" + proxy, "--name", name,
			"--topic", "slowdown/" + name + "/{id}", "--rate", "200", "--subscribers", "1", "--warmup", "2s", "--duration", "35s"}, &out, &errOut)
		if code != 0 {
			return uuid.Nil, fmt.Errorf("producer mqtt %s: exit %d\n%s\n%s", name, code, out.String(), errOut.String())
		}
		m := regexp.MustCompile(`(?m)^run ([0-9a-f-]{36}): `).FindStringSubmatch(out.String())
		if m == nil {
			return uuid.Nil, fmt.Errorf("no run id in the output:\n%s", out.String())
		}
		t.Logf("run %s (%s): %s", name, m[1], time.Since(start).Round(time.Millisecond))
		return uuid.MustParse(m[1]), nil
	}
	runs := []struct {
		name, proxy string
		id          uuid.UUID
		err         error
	}{{"identical-1", direct.Addr(), uuid.Nil, nil}, {"identical-2", direct.Addr(), uuid.Nil, nil}, {"slowed", slow.Addr(), uuid.Nil, nil}}
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { runs[i].id, runs[i].err = mqtt(runs[i].name, runs[i].proxy) })
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if status := p.WaitFinished(t, r.id); status != "ok" {
			t.Fatalf("run %s: status %s", r.name, status)
		}
	}
	a, b, c := runs[0].id, runs[1].id, runs[2].id

	// The gate: any figure worse by 100%. The latencies here are about a millisecond on a shared 2-core machine,
	// whose run-to-run noise for them is tens of percent; 50 ms each way adds 100 ms, several times even the tail
	// (p99.9 is some 25 ms with three runs side by side under the race detector).
	gate := []string{"--json", "--max-regression", "100%"}
	cases := []struct {
		name        string
		base, cand  uuid.UUID
		code        int
		regressions []string // exactly the figures judged worse
	}{
		{"identical runs", a, b, compare.ExitOK, []string{}},
		{"slowed by 50 ms each way", b, c, compare.ExitRegression, []string{"p50", "p90", "p99", "p99.9"}},
	}
	for _, tc := range cases {
		code, stdout, stderr := p.Compare(t, append(gate, tc.base.String(), tc.cand.String())...)
		if code != tc.code {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", tc.name, code, tc.code, stdout, stderr)
		}
		var rep compare.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Regressions, tc.regressions) {
			t.Errorf("%s: regressions %v, want %v", tc.name, rep.Regressions, tc.regressions)
		}
		for _, fig := range []string{"throughput", "p50", "p90", "p99", "p99.9"} {
			v, reg, ok := rep.FigureStat(fig)
			if want := slices.Contains(tc.regressions, fig); !ok || reg != want || (v == "worse") != want {
				t.Errorf("%s: %s verdict %q, regression %v; want worse and a regression: %v", tc.name, fig, v, reg, want)
			}
		}
		_, text, _ := p.Compare(t, "--max-regression", "100%", tc.base.String(), tc.cand.String())
		t.Logf("%s:\n%s", tc.name, text)
	}
}
