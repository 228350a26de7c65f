package compare

// Contract between this package's GraphQL queries and the Hasura metadata in deploy/hasura (another engineer's):
// every document the package sends may use only tables, relationships and columns that the metadata lets the
// anonymous role select, and must carry every value in a variable declared with Hasura's scalar type. The
// metadata is read from YAML with its !include files followed (hasurastub.LoadMetadata); the check below walks the
// parsed documents itself, independently of the stub, and then runs each one against the stub (which stands in
// for Hasura, since Hasura cannot run here) to prove the variable types are accepted.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	graphql "github.com/hasura/go-graphql-client"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/schema"
)

// queryShape is one query the package sends, with variables built by the same functions the package uses.
type queryShape struct {
	name string
	q    any
	vars map[string]any
}

// queryShapes lists every query the package sends. helpers_test.go fails any test that sends another.
func queryShapes() []queryShape {
	id := uuid.MustParse("0190a000-0000-7000-8000-000000000001")
	before := timestamptz{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	params := json.RawMessage(`{"qos":1}`)
	tags := json.RawMessage(`{"site":"lab"}`)
	return []queryShape{
		{"run", &runQuery{}, runVars(id)},
		{"status", &statusQuery{}, statusVars(id)},
		{"baseline", &baselineQuery{}, baselineVars(id, "mqtt", "pi-7", params, before, nil)},
		{"baseline with equal tags", &baselineSameTagsQuery{}, baselineVars(id, "mqtt", "pi-7", params, before, tags)},
		{"baseline with contained tags", &baselineTagsContainQuery{}, baselineVars(id, "mqtt", "pi-7", params, before, tags)},
		{"cluster", &clusterQuery{}, clusterVars(id, uuid.MustParse("0190a000-0000-7000-8000-000000000002"))},
		{"history", &historyQuery{}, historyVars("mqtt", "pi-7", params, before, nil)},
		{"history with equal tags", &historySameTagsQuery{}, historyVars("mqtt", "pi-7", params, before, tags)},
		{"history with contained tags", &historyTagsContainQuery{}, historyVars("mqtt", "pi-7", params, before, tags)},
		{"latest", &latestQuery{}, latestVars("mqtt", "pi-7")},
	}
}

// hasuraTypes are the GraphQL types Hasura gives the variables' positions.
var hasuraTypes = map[string]string{
	"id": "uuid!", "phase": "String!", "kind": "String!", "host": "String!", "parameters": "jsonb!",
	"status": "String!", "before": "timestamptz!", "tags": "jsonb!", "baseline": "uuid!", "candidate": "uuid!",
}

func TestQueriesUseOnlyWhatTheAnonymousRoleMaySelect(t *testing.T) {
	md, err := hasurastub.LoadMetadata(metadataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range queryShapes() {
		t.Run(s.name, func(t *testing.T) {
			doc, err := graphql.ConstructQuery(s.q, s.vars)
			if err != nil {
				t.Fatal(err)
			}
			qd, err := parser.ParseQuery(&ast.Source{Input: doc})
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if len(qd.Operations) != 1 || qd.Operations[0].Operation != ast.Query {
				t.Fatalf("want one query operation: %s", doc)
			}
			op := qd.Operations[0]
			for _, vd := range op.VariableDefinitions {
				if want := hasuraTypes[vd.Variable]; vd.Type.String() != want {
					t.Errorf("variable $%s declared %s, want %s", vd.Variable, vd.Type.String(), want)
				}
			}
			ch := &contractChecker{md: md, role: "anonymous"}
			for _, sel := range op.SelectionSet {
				ch.root(sel.(*ast.Field))
			}
			for _, p := range ch.problems {
				t.Errorf("%s\n  in %s", p, doc)
			}
		})
	}
}

// contractChecker walks a document against the metadata.
type contractChecker struct {
	md       *hasurastub.Metadata
	role     string
	problems []string
}

func (c *contractChecker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *contractChecker) perm(table string) *hasurastub.SelectPermission {
	t := c.md.Tables[table]
	if t == nil {
		return nil
	}
	return t.Select[c.role]
}

func (c *contractChecker) root(f *ast.Field) {
	table, byPK := strings.CutSuffix(f.Name, "_by_pk")
	p := c.perm(table)
	if p == nil {
		c.fail("root field %s: table %s is not tracked or not selectable by %s", f.Name, table, c.role)
		return
	}
	c.arguments(table, f.Arguments, byPK)
	c.selection(table, f.SelectionSet)
}

func (c *contractChecker) arguments(table string, args ast.ArgumentList, byPK bool) {
	p := c.perm(table)
	for _, a := range args {
		switch {
		case byPK:
			if !p.Column(a.Name) {
				c.fail("%s_by_pk(%s): column not selectable by %s", table, a.Name, c.role)
			}
			c.noLiterals(table+"."+a.Name, a.Value)
		case a.Name == "where":
			c.boolExp(table, a.Value)
		case a.Name == "order_by":
			for _, item := range listItems(a.Value) {
				for _, ch := range item.Children {
					if !p.Column(ch.Name) {
						c.fail("%s order_by %s: column not selectable by %s", table, ch.Name, c.role)
					}
					if ch.Value.Kind != ast.EnumValue {
						c.fail("%s order_by %s: want an order_by enum value", table, ch.Name)
					}
				}
			}
		case a.Name == "limit" || a.Name == "offset":
			// structure of the query, not data: a literal is fine
		default:
			c.fail("%s: unexpected argument %s", table, a.Name)
		}
	}
}

func listItems(v *ast.Value) []*ast.Value {
	if v.Kind != ast.ListValue {
		return []*ast.Value{v}
	}
	var out []*ast.Value
	for _, ch := range v.Children {
		out = append(out, ch.Value)
	}
	return out
}

func (c *contractChecker) boolExp(table string, v *ast.Value) {
	if v.Kind == ast.Variable {
		return
	}
	p := c.perm(table)
	for _, ch := range v.Children {
		switch ch.Name {
		case "_and", "_or":
			for _, item := range listItems(ch.Value) {
				c.boolExp(table, item)
			}
		case "_not":
			c.boolExp(table, ch.Value)
		default:
			if rel := c.md.Tables[table].Relationships[ch.Name]; rel != nil {
				if c.perm(rel.RemoteName) == nil {
					c.fail("%s where %s: relationship to a table %s may not select", table, ch.Name, c.role)
				}
				c.boolExp(rel.RemoteName, ch.Value)
				continue
			}
			if !p.Column(ch.Name) {
				c.fail("%s where %s: column not selectable by %s", table, ch.Name, c.role)
			}
			c.noLiterals(table+"."+ch.Name, ch.Value)
		}
	}
}

// noLiterals requires every value under v to be a variable: values are never pasted into a document.
func (c *contractChecker) noLiterals(where string, v *ast.Value) {
	switch v.Kind {
	case ast.Variable:
	case ast.ObjectValue, ast.ListValue:
		for _, ch := range v.Children {
			c.noLiterals(where, ch.Value)
		}
	default:
		c.fail("%s: literal value %s in the document; pass it in a variable", where, v.String())
	}
}

func (c *contractChecker) selection(table string, set ast.SelectionSet) {
	p := c.perm(table)
	for _, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok {
			c.fail("%s: fragments are not used by this package", table)
			continue
		}
		if rel := c.md.Tables[table].Relationships[f.Name]; rel != nil {
			if c.perm(rel.RemoteName) == nil {
				c.fail("%s.%s: relationship to a table %s may not select", table, f.Name, c.role)
				continue
			}
			if !rel.Array && len(f.Arguments) > 0 {
				c.fail("%s.%s: object relationships take no arguments", table, f.Name)
			}
			c.arguments(rel.RemoteName, f.Arguments, false)
			c.selection(rel.RemoteName, f.SelectionSet)
			continue
		}
		if !p.Column(f.Name) {
			c.fail("%s.%s: column not selectable by %s", table, f.Name, c.role)
		}
		if len(f.SelectionSet) > 0 {
			c.fail("%s.%s: a column with a selection set", table, f.Name)
		}
	}
}

// TestQueriesRunAgainstTheStub sends every query shape, with its real variables, to the Hasura stand-in, which
// checks each variable's declared type against the column it is compared with (uuid, timestamptz, jsonb, …).
func TestQueriesRunAgainstTheStub(t *testing.T) {
	e := newEnv(t)
	c, err := newClient(e.cfg.GraphQL, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range queryShapes() {
		if err := c.query(context.Background(), s.name, s.q, s.vars); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	got := e.stub.Requests()
	if len(got) != len(queryShapes()) {
		t.Fatalf("stub saw %d requests", len(got))
	}
	if h := got[0].Header.Get(testHeader); h != "yes" {
		t.Errorf("graphql.headers not sent: %s = %q", testHeader, h)
	}
	var vars map[string]any
	if err := json.Unmarshal(got[2].Variables, &vars); err != nil {
		t.Fatal(err)
	}
	if _, isObject := vars["parameters"].(map[string]any); !isObject {
		t.Errorf("jsonb variable not sent as a JSON object: %s", got[2].Variables)
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "before,host,id,kind,parameters,status" {
		t.Errorf("baseline variables = %v", keys)
	}
}

// TestWrongScalarTypeIsRefused shows what the uuid type buys: a run id sent as a plain string is declared
// String!, which Hasura refuses where it expects uuid.
func TestWrongScalarTypeIsRefused(t *testing.T) {
	e := newEnv(t)
	e.anyDocuments = true
	c, err := newClient(config.GraphQL{URL: e.stub.URL, Timeout: 5 * time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	var q runQuery
	err = c.query(context.Background(), "fetch", &q, map[string]any{"id": uuid.NewString(), "phase": string(schema.PhaseMeasure)})
	if ExitCode(err) != ExitRejected || !strings.Contains(err.Error(), "variable 'id' is declared as 'String!', but used where 'uuid!' is expected") {
		t.Fatalf("err = %v", err)
	}
}
