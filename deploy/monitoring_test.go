package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

const (
	pgDatasourceUID   = "benchpipe-timescaledb"
	promDatasourceUID = "benchpipe-prometheus"
)

type grafanaDatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string               `json:"name"`
			Datasource grafanaDatasourceRef `json:"datasource"`
			Query      string               `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int                      `json:"id"`
		Title      string                   `json:"title"`
		Type       string                   `json:"type"`
		Datasource grafanaDatasourceRef     `json:"datasource"`
		GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
		Targets    []struct {
			RefID      string               `json:"refId"`
			Datasource grafanaDatasourceRef `json:"datasource"`
			RawSQL     string               `json:"rawSql"`
			Expr       string               `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		Access         string            `yaml:"access"`
		URL            string            `yaml:"url"`
		User           string            `yaml:"user"`
		IsDefault      bool              `yaml:"isDefault"`
		Editable       bool              `yaml:"editable"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

var grafanaEnvRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// The provisioned data sources point at the compose services, take credentials from the grafana service's
// environment, and are the ones the dashboard uses.
func TestGrafanaProvisioning(t *testing.T) {
	p := mustLoadCompose(t)
	gEnv := envOf(p.Services["grafana"])
	file := "deploy/monitoring/grafana/provisioning/datasources/benchpipe.yaml"
	raw := readFile(t, file)
	var ds grafanaDatasources
	dec := yaml.NewDecoder(strings.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&ds); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
	}
	if uids[pgDatasourceUID] != "grafana-postgresql-datasource" || uids[promDatasourceUID] != "prometheus" {
		t.Errorf("data sources %v; want %s (PostgreSQL) and %s (Prometheus)", uids, pgDatasourceUID, promDatasourceUID)
	}
	for _, d := range ds.Datasources {
		host := strings.TrimPrefix(d.URL, "http://")
		host = host[:strings.IndexAny(host+":", ":/")]
		if _, ok := p.Services[host]; !ok {
			t.Errorf("data source %s: %s is not a compose service", d.Name, d.URL)
		}
		for k, v := range d.SecureJSONData {
			if !strings.HasPrefix(v, "$") {
				t.Errorf("data source %s: secureJsonData.%s is a literal", d.Name, k)
			}
		}
	}
	for _, m := range grafanaEnvRef.FindAllStringSubmatch(raw, -1) {
		if gEnv[m[1]] == "" {
			t.Errorf("%s uses $%s, which the grafana service's environment does not set", file, m[1])
		}
	}

	// The dashboard provider reads the directory compose mounts the dashboards into.
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "deploy/monitoring/grafana/provisioning/dashboards/benchpipe.yaml")), &prov); err != nil || len(prov.Providers) != 1 {
		t.Fatalf("dashboard provider: %v", err)
	}
	mounted := false
	for _, v := range p.Services["grafana"].Volumes {
		if v.Target == prov.Providers[0].Options.Path && v.Source == path(t, "deploy/monitoring/grafana/dashboards") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("dashboards are not mounted at the provider's path %s", prov.Providers[0].Options.Path)
	}
}

// ownMetric matches the sink's (benchpipe_*) and the perftarget's (perftarget_*) metric names in PromQL.
var ownMetric = regexp.MustCompile(`\b(benchpipe|perftarget)_[a-z0-9_]+`)

func TestGrafanaDashboard(t *testing.T) {
	var dash grafanaDashboard
	dec := json.NewDecoder(strings.NewReader(readFile(t, "deploy/monitoring/grafana/dashboards/benchpipe.json")))
	if err := dec.Decode(&dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) < 5 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	ids := map[int]bool{}
	sources := goSources(t, "sink", "perftarget")
	var sawSQL, sawProm bool
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		for _, tg := range p.Targets {
			switch tg.Datasource.UID {
			case pgDatasourceUID:
				sawSQL = true
				if tg.RawSQL == "" {
					t.Errorf("panel %q: SQL target without rawSql", p.Title)
				}
			case promDatasourceUID:
				sawProm = true
				metrics := ownMetric.FindAllString(tg.Expr, -1)
				if len(metrics) == 0 {
					t.Errorf("panel %q: %q reads no benchpipe or perftarget metric", p.Title, tg.Expr)
				}
				// A renamed metric must not silently empty a panel: the name must be in the programs' code.
				for _, m := range metrics {
					name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
					// perftarget builds its names as BuildFQName("perftarget", "", name).
					literal := name
					if short, ok := strings.CutPrefix(name, "perftarget_"); ok {
						literal = short
					}
					if !strings.Contains(sources, `"`+literal+`"`) {
						t.Errorf("panel %q: metric %s is not defined in sink/ or perftarget/", p.Title, name)
					}
				}
			default:
				t.Errorf("panel %q target %s: data source %q is not provisioned", p.Title, tg.RefID, tg.Datasource.UID)
			}
		}
	}
	if !sawSQL || !sawProm {
		t.Error("the dashboard should chart both samples (TimescaleDB) and the sink (Prometheus)")
	}
}

// goSources concatenates the non-test Go files under the given directories.
func goSources(t *testing.T, dirs ...string) string {
	var b strings.Builder
	for _, d := range dirs {
		_ = filepath.WalkDir(path(t, d), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				data, _ := os.ReadFile(p)
				b.Write(data)
			}
			return nil
		})
	}
	return b.String()
}

// Prometheus scrapes the ports the programs' configs serve metrics on, under their compose service names.
func TestPrometheusConfig(t *testing.T) {
	type fileSD struct {
		Files []string `yaml:"files"`
	}
	var cfg struct {
		Global        map[string]string `yaml:"global"`
		RuleFiles     []string          `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			FileSDConfigs []fileSD `yaml:"file_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	raw := readFile(t, "deploy/monitoring/prometheus/prometheus.yml")
	dec := yaml.NewDecoder(strings.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	var sdFiles []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
		for _, sd := range sc.FileSDConfigs {
			sdFiles = append(sdFiles, sd.Files...)
		}
	}
	p := mustLoadCompose(t)
	sink := parseConfig(t, path(t, "deploy/compose/sink.yaml"), envOf(p.Services["sink"]))
	pt := parseConfig(t, path(t, "deploy/compose/perftarget.yaml"), envOf(p.Services["perftarget"]))
	for _, want := range []string{"sink" + sink.Sink.HTTPAddr, "perftarget" + pt.Perftarget.MetricsAddr} {
		if !slices.Contains(targets, want) {
			t.Errorf("prometheus scrapes %v, not %s", targets, want)
		}
	}

	// Every path the configuration names is mounted into the prometheus service: the rules load (the split-brain
	// alert among them), and each file_sd glob matches the example next to it once copied.
	hostPath := func(container string) string {
		for _, v := range p.Services["prometheus"].Volumes {
			if rel, ok := strings.CutPrefix(container, v.Target+"/"); ok {
				return filepath.Join(v.Source, rel)
			}
		}
		t.Errorf("%s is not under a volume of the prometheus service", container)
		return ""
	}
	var rules []string
	for _, g := range cfg.RuleFiles {
		m, _ := filepath.Glob(hostPath(g))
		rules = append(rules, m...)
	}
	if !slices.ContainsFunc(rules, func(f string) bool { return strings.HasSuffix(f, "/cluster.rules.yml") }) {
		t.Errorf("rule_files %v load %v: not the cluster rules", cfg.RuleFiles, rules)
	}
	if len(sdFiles) != 2 {
		t.Errorf("file_sd files %v, want the postgres exporters' and producer observe's", sdFiles)
	}
	for _, g := range sdFiles {
		host := hostPath(g)
		examples, _ := filepath.Glob(host + ".example")
		if len(examples) != 1 {
			t.Errorf("%s: %d examples (%s.example), want 1", g, len(examples), host)
			continue
		}
		if ok, _ := filepath.Match(filepath.Base(g), strings.TrimSuffix(filepath.Base(examples[0]), ".example")); !ok {
			t.Errorf("%s copied without .example does not match %s", examples[0], g)
		}
		var groups []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		}
		d := yaml.NewDecoder(strings.NewReader(readFile(t, strings.TrimPrefix(examples[0], root(t)+"/"))))
		d.KnownFields(true)
		if err := d.Decode(&groups); err != nil || len(groups) == 0 || len(groups[0].Targets) == 0 {
			t.Errorf("%s is not a file_sd target list: %v", examples[0], err)
		}
	}

	// promtool checks the configuration with the rule files as the container sees them, here at their host paths.
	promtool := testenv.Tool(t, "promtool", "apt-get install -y prometheus")
	hostCfg := raw
	for _, g := range append(slices.Clone(cfg.RuleFiles), sdFiles...) {
		hostCfg = strings.ReplaceAll(hostCfg, g, hostPath(g))
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, []byte(hostCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	runChecked(t, promtool, "check", "config", f)
}
