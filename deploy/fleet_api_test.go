package deploy_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/benchpipe/benchpipe/sink/api"
)

// The fleet's operator API (issue 14): `sink api` in the compose stack, and the Hasura actions that call it.

// TestComposeSinkAPI: sink-api runs `sink api` from the sink's image with the sink's configuration, listens where
// its healthcheck and Hasura look, takes both secrets from .env (required), and publishes no port: only Hasura
// talks to it.
func TestComposeSinkAPI(t *testing.T) {
	p := mustLoadCompose(t)
	s, sink := p.Services["sink-api"], p.Services["sink"]
	if s.Image != sink.Image || !slices.Equal(s.Command, []string{"api"}) {
		t.Errorf("sink-api: image %s command %v, want the sink's image %s with command [api]", s.Image, s.Command, sink.Image)
	}
	if len(s.Ports) != 0 {
		t.Errorf("sink-api publishes %v: only Hasura, on the stack's network, may reach it", s.Ports)
	}
	env := envOf(s)
	cfg := parseConfig(t, path(t, "deploy/compose/sink.yaml"), env)
	if cfg.Fleet.APIAddr == "" || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "127.0.0.1"+cfg.Fleet.APIAddr+"/healthz") {
		t.Errorf("sink-api: fleet.api_addr %q and the healthcheck %v disagree", cfg.Fleet.APIAddr, s.HealthCheck.Test)
	}
	if !slices.Equal(s.HealthCheck.Test[:2], sink.HealthCheck.Test[:2]) {
		t.Errorf("sink-api's healthcheck runs %v, the sink image has %v", s.HealthCheck.Test[:2], sink.HealthCheck.Test[:2])
	}
	if cfg.Sink.DatabaseURL == "" || !strings.Contains(cfg.Sink.DatabaseURL, "@timescaledb:5432/") {
		t.Errorf("sink-api database URL %q should point at the timescaledb service", cfg.Sink.DatabaseURL)
	}
	for _, k := range []string{api.EnvOperatorToken, api.EnvActionSecret} {
		if env[k] == "" {
			t.Errorf("sink-api: %s is not set", k)
		}
	}
	// compareRuns and runHistory (issue 17) read runs back from the stack's Hasura, on its container port.
	hasura := p.Services["hasura"]
	if cfg.GraphQL.URL != "http://hasura:8080/v1/graphql" || hasura.Name == "" ||
		!strings.Contains(strings.Join(hasura.HealthCheck.Test, " "), "127.0.0.1:8080/") {
		t.Errorf("sink-api graphql.url %q: want the hasura service's endpoint http://hasura:8080/v1/graphql", cfg.GraphQL.URL)
	}
	// Required in the raw file: without .env values compose stops instead of starting an API anyone could call.
	raw := readFile(t, "docker-compose.yml")
	for _, k := range []string{api.EnvOperatorToken, api.EnvActionSecret} {
		if !strings.Contains(raw, k+": ${"+k+":?set it in .env}") {
			t.Errorf("docker-compose.yml does not require %s (${%s:?set it in .env})", k, k)
		}
	}
}

// hasuraActions is actions.yaml, decoded strictly.
type hasuraActions struct {
	Actions []struct {
		Name       string `yaml:"name"`
		Definition struct {
			Kind                 string `yaml:"kind"`
			Type                 string `yaml:"type"`
			Handler              string `yaml:"handler"`
			ForwardClientHeaders bool   `yaml:"forward_client_headers"`
			Timeout              int    `yaml:"timeout"`
			Headers              []struct {
				Name         string `yaml:"name"`
				Value        string `yaml:"value"`
				ValueFromEnv string `yaml:"value_from_env"`
			} `yaml:"headers"`
		} `yaml:"definition"`
		Permissions []struct {
			Role string `yaml:"role"`
		} `yaml:"permissions"`
		Comment string `yaml:"comment"`
	} `yaml:"actions"`
	CustomTypes struct {
		Enums        []any                   `yaml:"enums"`
		InputObjects []any                   `yaml:"input_objects"`
		Objects      []struct{ Name string } `yaml:"objects"`
		Scalars      []any                   `yaml:"scalars"`
	} `yaml:"custom_types"`
}

// actionSignatures are the actions' GraphQL signatures as the design fixes them (the viewer, `producer launch`
// and sink/api's input decoding depend on them), printed as "field(arg: Type, …): Type".
var actionSignatures = map[string]string{
	"launchJobs": "launchJobs(kind: String!, spec: jsonb!, agents: [String!], tags: jsonb, all: Boolean, name: String, run_tags: jsonb, expires_in_s: Int): LaunchResult",
	"stopJobs":   "stopJobs(job_id: uuid, group_id: uuid): StopResult",
	// Issue 17's read-only queries; the viewer depends on them too.
	"compareRuns": "compareRuns(baseline: uuid!, candidate: uuid!, max_regression: String, confidence: Float): ComparisonReport",
	"runHistory":  "runHistory(run_id: uuid!, figures: [String!], false_alarm: Float, significance: Float, limit: Int): HistoryReport",
}

// queryActions are the actions of type Query: read-only, for the anonymous role as well as operator.
var queryActions = []string{"compareRuns", "runHistory"}

var actionTypes = map[string]string{
	"LaunchResult":     "group_id: uuid!, jobs: [LaunchedJob!]!",
	"LaunchedJob":      "job_id: uuid!, agent: String!",
	"StopResult":       "jobs: [LaunchedJob!]!",
	"ComparisonReport": "report: jsonb!",
	"HistoryReport":    "report: jsonb!",
}

// TestHasuraActions: actions.yaml and actions.graphql define launchJobs and stopJobs as the design fixes them:
// synchronous mutations for role operator only, handled by sink api's /actions with the action secret from
// Hasura's environment, client headers (the operator token) not forwarded; the types they name are declared, and
// the only scalars beyond GraphQL's are PostgreSQL's uuid and jsonb, which Hasura lets actions use undeclared.
// The compose stack's Hasura sets every variable the metadata reads.
func TestHasuraActions(t *testing.T) {
	dir := hasuraMetadataDir(t)
	var md hasuraActions
	if err := decodeStrict(loadHasuraYAML(t, filepath.Join(dir, "actions.yaml")), &md); err != nil {
		t.Fatalf("actions.yaml: %v", err)
	}
	hasura := envOf(mustLoadCompose(t).Services["hasura"])
	template := regexp.MustCompile(`^\{\{([A-Z_]+)\}\}/actions$`)
	var names []string
	for _, a := range md.Actions {
		names = append(names, a.Name)
		d := a.Definition
		query := slices.Contains(queryActions, a.Name)
		switch {
		case query && (d.Type != "query" || d.Kind != ""):
			// Hasura reads kind for mutations only: a query action is always synchronous.
			t.Errorf("%s: type %q, kind %q; want type query and no kind", a.Name, d.Type, d.Kind)
		case !query && (d.Kind != "synchronous" || (d.Type != "" && d.Type != "mutation")):
			t.Errorf("%s: type %q, kind %q; want a synchronous mutation", a.Name, d.Type, d.Kind)
		case d.ForwardClientHeaders:
			t.Errorf("%s: forward_client_headers: the handler never needs the operator token", a.Name)
		}
		if m := template.FindStringSubmatch(d.Handler); m == nil || hasura[m[1]] == "" {
			t.Errorf("%s: handler %q: want {{VAR}}/actions with VAR set in Hasura's environment", a.Name, d.Handler)
		}
		if len(d.Headers) != 1 || d.Headers[0].Name != api.ActionSecretHeader || d.Headers[0].ValueFromEnv != api.EnvActionSecret || d.Headers[0].Value != "" {
			t.Errorf("%s: headers %+v; want exactly %s from value_from_env %s", a.Name, d.Headers, api.ActionSecretHeader, api.EnvActionSecret)
		}
		if hasura[api.EnvActionSecret] == "" {
			t.Errorf("%s: Hasura's environment lacks %s", a.Name, api.EnvActionSecret)
		}
		// Above sink api's produce timeout (api.DefaultProduceTimeout), so Kafka's error reaches the operator.
		if d.Timeout <= int(api.DefaultProduceTimeout.Seconds()) {
			t.Errorf("%s: timeout %d s, want more than sink api's produce timeout %s", a.Name, d.Timeout, api.DefaultProduceTimeout)
		}
		var roles []string
		for _, p := range a.Permissions {
			roles = append(roles, p.Role)
		}
		want := []string{api.RoleOperator}
		if query {
			want = []string{api.RoleAnonymous, api.RoleOperator}
		}
		if !slices.Equal(roles, want) {
			t.Errorf("%s: permissions for %v; want %v", a.Name, roles, want)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"compareRuns", "launchJobs", "runHistory", "stopJobs"}) {
		t.Errorf("actions %v, want compareRuns, launchJobs, runHistory and stopJobs", names)
	}

	sdlFile := filepath.Join(dir, "actions.graphql")
	doc, err := parser.ParseSchema(&ast.Source{Name: sdlFile, Input: readFile(t, "deploy/hasura/metadata/actions.graphql")})
	if err != nil {
		t.Fatalf("actions.graphql: %v", err)
	}
	fields := map[string]string{}
	objects := map[string]string{}
	var scalars []string
	typeName := func(ty *ast.Type) string {
		for ty.Elem != nil {
			ty = ty.Elem
		}
		return ty.NamedType
	}
	for _, def := range doc.Definitions {
		if def.Kind != ast.Object {
			t.Errorf("actions.graphql: %s %s: only object types are expected", def.Kind, def.Name)
			continue
		}
		var parts []string
		root := def.Name == "Mutation" || def.Name == "Query"
		for _, f := range def.Fields {
			if root {
				if want := slices.Contains(queryActions, f.Name); want != (def.Name == "Query") {
					t.Errorf("actions.graphql: %s is in type %s", f.Name, def.Name)
				}
				var args []string
				for _, a := range f.Arguments {
					args = append(args, a.Name+": "+a.Type.String())
					scalars = append(scalars, typeName(a.Type))
				}
				fields[f.Name] = f.Name + "(" + strings.Join(args, ", ") + "): " + f.Type.String()
				continue
			}
			parts = append(parts, f.Name+": "+f.Type.String())
			scalars = append(scalars, typeName(f.Type))
		}
		if !root {
			objects[def.Name] = strings.Join(parts, ", ")
		}
	}
	for name, want := range actionSignatures {
		if fields[name] != want {
			t.Errorf("actions.graphql: %s\nwant %s", fields[name], want)
		}
	}
	if len(fields) != len(actionSignatures) {
		t.Errorf("actions.graphql: fields %v, want %d", fields, len(actionSignatures))
	}
	for name, want := range actionTypes {
		if objects[name] != want {
			t.Errorf("actions.graphql: type %s { %s }, want { %s }", name, objects[name], want)
		}
	}
	var listed []string
	for _, o := range md.CustomTypes.Objects {
		listed = append(listed, o.Name)
	}
	slices.Sort(listed)
	if want := []string{"ComparisonReport", "HistoryReport", "LaunchResult", "LaunchedJob", "StopResult"}; !slices.Equal(listed, want) || len(objects) != len(want) {
		t.Errorf("custom_types.objects %v, types in actions.graphql %v; want both %v", listed, objects, want)
	}
	for _, s := range scalars {
		if _, object := objects[s]; !object && !slices.Contains([]string{"String", "Int", "Float", "Boolean", "uuid", "jsonb"}, s) {
			t.Errorf("actions.graphql uses type %s: neither declared nor GraphQL's or PostgreSQL's", s)
		}
	}
	if len(md.CustomTypes.Scalars)+len(md.CustomTypes.Enums)+len(md.CustomTypes.InputObjects) != 0 {
		t.Errorf("custom_types: scalars %v, enums %v, input objects %v; want none (uuid and jsonb are PostgreSQL's)", md.CustomTypes.Scalars, md.CustomTypes.Enums, md.CustomTypes.InputObjects)
	}
}

// TestFleetTopicsDeployed: the sink's configuration in the compose stack and on Kubernetes lists the fleet's
// topics with format fleet (so `sink run` creates them, Kafka's auto-creation being off, and sink api can produce
// to fleet.jobs_topic) and consumes both (so agents, jobs and their states reach the tables).
func TestFleetTopicsDeployed(t *testing.T) {
	p := mustLoadCompose(t)
	for _, tc := range []struct{ where, file string }{
		{"compose", path(t, "deploy/compose/sink.yaml")},
		{"k8s", path(t, "deploy/k8s/base/config/sink.yaml")},
	} {
		env := envOf(p.Services["sink"])
		env["KAFKA_BROKERS"], env["KAFKA_PASSWORD"] = "kafka:9092", ""
		cfg := parseConfig(t, tc.file, env)
		consumed := map[string]string{}
		for _, topic := range cfg.SinkTopics() {
			consumed[topic.Name] = topic.Format
		}
		for _, name := range []string{cfg.Fleet.JobsTopic, cfg.Fleet.AgentsTopic} {
			if consumed[name] != "fleet" {
				t.Errorf("%s: the sink does not consume %s with format fleet (consumed: %v)", tc.where, name, consumed)
			}
		}
	}
}
