package compare_test

// Item 4 of issue 17 with real runs: `producer mqtt` measures the embedded NATS MQTT target through a TCP proxy
// and publishes its records into kfake; the real sink writes them to PostgreSQL; `producer compare` reads them
// over the Hasura stand-in. Two runs through a proxy that forwards at once are identical; a third through a
// proxy that holds every byte for 5 ms each way has an injected slowdown that the gate must catch.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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
	slow := testenv.StartDelayProxy(t, srv.MQTTAddr(), 5*time.Millisecond)

	cfg := filepath.Join(t.TempDir(), "producer.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%s]\nproducer:\n  spool_dir: %s\n  device: slowdown-test\n", strings.Join(p.Brokers, ", "), t.TempDir())
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	mqtt := func(name, proxy string) uuid.UUID {
		t.Helper()
		var out, errOut strings.Builder
		start := time.Now()
		code := mqttload.Run(t.Context(), []string{"--config", cfg, "--broker", "tcp://" + proxy, "--name", name,
			"--rate", "200", "--subscribers", "1", "--warmup", "2s", "--duration", "35s"}, &out, &errOut)
		if code != 0 {
			t.Fatalf("producer mqtt %s: exit %d\n%s\n%s", name, code, out.String(), errOut.String())
		}
		m := regexp.MustCompile(`(?m)^run ([0-9a-f-]{36}): `).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no run id in the output:\n%s", out.String())
		}
		id := uuid.MustParse(m[1])
		if status := p.WaitFinished(t, id); status != "ok" {
			t.Fatalf("run %s: status %s", name, status)
		}
		t.Logf("run %s (%s): %s", name, id, time.Since(start).Round(time.Millisecond))
		return id
	}
	a := mqtt("identical-1", direct.Addr())
	b := mqtt("identical-2", direct.Addr())
	c := mqtt("slowed", slow.Addr())

	// The gate: any figure worse by 100%. The latencies here are about a millisecond on a shared 2-core machine,
	// whose run-to-run noise for them is tens of percent; 5 ms each way adds 10 ms, +500% and more.
	gate := []string{"--json", "--max-regression", "100%"}
	cases := []struct {
		name        string
		base, cand  uuid.UUID
		code        int
		regressions []string // exactly the figures judged worse
	}{
		{"identical runs", a, b, compare.ExitOK, []string{}},
		{"slowed by 5 ms each way", b, c, compare.ExitRegression, []string{"p50", "p90", "p99", "p99.9"}},
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
