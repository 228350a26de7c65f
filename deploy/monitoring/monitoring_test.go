// Package monitoring_test checks the cluster-observation monitoring files of deploy/monitoring with the real tools:
// promtool checks and unit-tests the alert rules, and prometheus-postgres-exporter runs the custom queries against
// a real primary and streaming standby (internal/testenv's PGCluster).
package monitoring_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	rulesFile     = "prometheus/rules/cluster.rules.yml"
	rulesTestFile = "prometheus/rules/cluster.rules.test.yml"
	queriesFile   = "postgres-exporter/queries.yaml"
	dashboardFile = "grafana/dashboards/cluster.json"
)

func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := testenv.Tool(t, "promtool", "apt-get install -y prometheus")
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The rules are valid and their unit tests pass: the split-brain alerts fire at 5 minutes of two primaries and
// not at 4, nor for a 3-minute switchover.
func TestRules(t *testing.T) {
	if out := promtool(t, ".", "check", "rules", rulesFile); !strings.Contains(out, "SUCCESS: 2 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}
	if out := promtool(t, "prometheus/rules", "test", "rules", "cluster.rules.test.yml"); !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
}

// exporterMetrics returns the metric names the custom query file defines: <query>_<column> for every column that
// is not a label.
func exporterMetrics(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(queriesFile)
	if err != nil {
		t.Fatal(err)
	}
	var queries map[string]struct {
		Query   string                                           `yaml:"query"`
		Master  bool                                             `yaml:"master"`
		Metrics []map[string]struct{ Usage, Description string } `yaml:"metrics"`
	}
	if err := yaml.Unmarshal(raw, &queries); err != nil {
		t.Fatal(err)
	}
	var names []string
	for q, def := range queries {
		if def.Query == "" || !def.Master {
			t.Errorf("query %s: no query, or not master: true (it must run on the node's own database only)", q)
		}
		for _, m := range def.Metrics {
			for col, spec := range m {
				if spec.Usage != "LABEL" {
					names = append(names, q+"_"+col)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

var metricName = regexp.MustCompile(`\b(pg_replication_[a-z_]+|benchpipe_cluster_[a-z_]+)\b`)

// observerMetrics are the names `producer observe` exports.
var observerMetrics = []string{observe.MetricNodeUp, observe.MetricNodeIsReplica, observe.MetricNodeTimeline, observe.MetricNodeWALBytes,
	observe.MetricNodeLagBytes, observe.MetricNodeLagSeconds, observe.MetricNodeConnections, observe.MetricPrimaries, observe.MetricEvents,
	observe.MetricPoolNodeUp, observe.MetricPoolSelects, observe.MetricRounds}

// Every metric the rules and the dashboard read is one the exporter's custom queries or producer observe
// export: a renamed metric must not silently empty an alert or a panel.
func TestMetricNamesExist(t *testing.T) {
	known := append(exporterMetrics(t), observerMetrics...)
	want := []string{"pg_replication_is_replica", "pg_replication_lag", "pg_replication_standby_lag_bytes", "pg_replication_standby_replay_lag_seconds"}
	for _, w := range want {
		if !slices.Contains(known, w) {
			t.Errorf("the custom queries do not export %s", w)
		}
	}
	for _, f := range []string{rulesFile, dashboardFile} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := metricName.FindAllString(string(raw), -1)
		if len(used) == 0 {
			t.Errorf("%s reads no cluster metric", f)
		}
		for _, m := range used {
			if !slices.Contains(known, m) {
				t.Errorf("%s reads %s, which neither the custom queries nor producer observe export", f, m)
			}
		}
	}
}

type datasource struct{ Type, UID string }

// The dashboard is well-formed: unique panel ids, sizes, every target on the provisioned Prometheus data source.
func TestClusterDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int                      `json:"id"`
			Title      string                   `json:"title"`
			GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
			Datasource datasource               `json:"datasource"`
			Targets    []struct {
				Expr       string     `json:"expr"`
				Datasource datasource `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID != "benchpipe-cluster" || len(dash.Panels) < 5 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	prom := datasource{Type: "prometheus", UID: "benchpipe-prometheus"}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] || p.GridPos.W == 0 || p.GridPos.H == 0 || len(p.Targets) == 0 {
			t.Errorf("panel %q: id %d twice, no size or no target", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Datasource != prom {
			t.Errorf("panel %q: data source %+v, want the provisioned Prometheus %+v", p.Title, p.Datasource, prom)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != prom || tg.Expr == "" {
				t.Errorf("panel %q: target %+v, want an expression on %+v", p.Title, tg, prom)
			}
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// exporter runs prometheus-postgres-exporter with the custom queries for one node and returns its /metrics URL.
func exporter(t *testing.T, bin, dsn string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin, "--extend.query-path="+queriesFile, "--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--disable-default-metrics", "--disable-settings-metrics")
	cmd.Env = append(os.Environ(), "DATA_SOURCE_NAME="+dsn)
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exporter for %s:\n%s", dsn, logb.String())
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
}

// sampleLine matches one sample of the text exposition format: name, optional labels, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// scrape returns the samples of url whose names start with prefix, as "name{labels}" → value.
func scrape(t *testing.T, url, prefix string) (map[string]float64, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil || !strings.HasPrefix(m[1], prefix) {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.Text(), err)
		}
		out[m[1]+m[2]] = v
	}
	return out, nil
}

// byName sums nothing: it returns the one sample called name whatever its labels, failing when there are more.
func byName(t *testing.T, samples map[string]float64, name string) (float64, bool) {
	t.Helper()
	var v float64
	n := 0
	for k, x := range samples {
		if k == name || strings.HasPrefix(k, name+"{") {
			v, n = x, n+1
		}
	}
	if n > 1 {
		t.Fatalf("%d samples of %s: %v", n, name, samples)
	}
	return v, n == 1
}

// postgres_exporter, run for real with the custom queries against the fixture cluster: is_replica is 0 on the
// primary and 1 on the standby, lag 0 on the primary; the primary reports its standby node1 in
// pg_replication_standby_*; after promoting the standby both export is_replica 0, which is what the alert counts.
func TestExporterCustomQueries(t *testing.T) {
	bin := testenv.Tool(t, "prometheus-postgres-exporter", "apt-get install -y prometheus-postgres-exporter")
	c := testenv.StartPGCluster(t)
	primary := exporter(t, bin, c.Primary.URL("postgres"))
	standby := exporter(t, bin, c.Standby.URL("postgres"))

	// wait scrapes url until want holds, at most 20 s; it returns the last scrape.
	wait := func(url string, want func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		var last map[string]float64
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if last, err = scrape(t, url, "pg_replication"); err == nil && want(last) {
				return last
			}
		}
		t.Fatalf("%s: %v (last error %v)", url, last, err)
		return nil
	}
	isReplica := func(want float64) func(map[string]float64) bool {
		return func(s map[string]float64) bool {
			v, ok := byName(t, s, "pg_replication_is_replica")
			return ok && v == want
		}
	}
	p := wait(primary, isReplica(0))
	if lag, ok := byName(t, p, "pg_replication_lag"); !ok || lag != 0 {
		t.Errorf("primary: pg_replication_lag %v (present %v), want 0", lag, ok)
	}
	p = wait(primary, func(s map[string]float64) bool {
		for k := range s {
			if strings.HasPrefix(k, "pg_replication_standby_lag_bytes{") && strings.Contains(k, `application_name="node1"`) && strings.Contains(k, `client_addr="127.0.0.1"`) {
				return true
			}
		}
		return false
	})
	s := wait(standby, isReplica(1))
	if _, ok := byName(t, s, "pg_replication_lag"); !ok {
		t.Errorf("standby: no pg_replication_lag in %v", s)
	}
	for k := range s {
		if strings.HasPrefix(k, "pg_replication_standby_") {
			t.Errorf("standby exports %s: a standby has no standbys of its own here", k)
		}
	}

	if err := c.Promote(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(standby, isReplica(0))
	// The alert's expression over both exporters: count(pg_replication_is_replica == 0) = 2.
	primaries := 0
	for _, url := range []string{primary, standby} {
		if v, ok := byName(t, wait(url, isReplica(0)), "pg_replication_is_replica"); ok && v == 0 {
			primaries++
		}
	}
	if primaries != 2 {
		t.Errorf("after the promotion %d exporters report a primary, want 2", primaries)
	}
}
