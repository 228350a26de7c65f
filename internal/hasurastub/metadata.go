package hasurastub

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"gopkg.in/yaml.v3"
)

// Metadata is the part of a Hasura metadata directory (config v3) the stub serves: the tracked tables of the
// source named "default", their manual relationships and their select permissions. Tests may edit a loaded
// Metadata (revoke a column, drop a permission) before passing it to New, to exercise the permission errors.
type Metadata struct {
	Tables    map[string]*Table    // by GraphQL name: the table name in schema public, else schema_name
	Functions map[string]*Function // tracked SQL functions, by GraphQL name (the same naming as tables)
	Actions   map[string]*Action   // synchronous mutation actions (actions.yaml, actions.graphql), by name
	// Types are the custom types of actions.graphql (objects, input objects, enums, scalars), by name.
	Types map[string]*ast.Definition
}

// Function is a tracked SQL function: Hasura serves it as the root field <name>(args: {…}, where, order_by,
// limit, offset, distinct_on) and <name>_aggregate, over the rows of the tracked table it returns a set of.
type Function struct {
	Schema, Name string
	GraphQLName  string
	Roles        []string // the roles of its permissions: the roles that may call it
}

// Table is one tracked table or view.
type Table struct {
	Schema, Name  string
	GraphQLName   string
	Relationships map[string]*Relationship // object and array relationships, by name
	Select        map[string]*SelectPermission
	// Modify holds the roles with an insert, update or delete permission: Hasura gives them mutation fields on the
	// table, which the stub does not implement (it answers them "hasurastub-unsupported").
	Modify map[string]bool
}

// Relationship is a manual relationship to another tracked table.
type Relationship struct {
	Name          string
	Array         bool              // array relationship (a list) rather than object relationship (one row)
	RemoteSchema  string            // schema of the remote table
	RemoteName    string            // name of the remote table
	ColumnMapping map[string]string // local column → remote column
}

// SelectPermission is a role's select permission on a table.
type SelectPermission struct {
	Columns           []string // the columns the role may read; nil with AllColumns
	AllColumns        bool     // columns: "*"
	Filter            map[string]any
	Limit             int // 0 = no limit
	AllowAggregations bool
}

// Column reports whether the permission lets the role read column.
func (p *SelectPermission) Column(column string) bool {
	if p.AllColumns {
		return true
	}
	for _, c := range p.Columns {
		if c == column {
			return true
		}
	}
	return false
}

// RevokeColumn removes column from role's select permission on table, as an operator editing the metadata
// would. It panics when the table or permission does not exist, since that is a mistake in the test.
func (m *Metadata) RevokeColumn(role, table, column string) {
	p := m.Tables[table].Select[role]
	p.AllColumns = false
	p.Columns = slicesDelete(p.Columns, column)
}

func slicesDelete(s []string, v string) []string {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// LoadMetadata reads a Hasura metadata directory (the one holding version.yaml and databases/) the way the Hasura
// CLI does: "!include FILE" values are replaced by the parsed FILE, relative to the file that names it. The
// actions (actions.yaml with their SDL in actions.graphql) are read when the directory has them.
func LoadMetadata(dir string) (*Metadata, error) {
	root, err := loadYAML(filepath.Join(dir, "databases", "databases.yaml"))
	if err != nil {
		return nil, err
	}
	var sources []struct {
		Name   string `yaml:"name"`
		Kind   string `yaml:"kind"`
		Tables []struct {
			Table struct {
				Name   string `yaml:"name"`
				Schema string `yaml:"schema"`
			} `yaml:"table"`
			Configuration struct {
				CustomName string `yaml:"custom_name"`
			} `yaml:"configuration"`
			ObjectRelationships []yamlRelationship `yaml:"object_relationships"`
			ArrayRelationships  []yamlRelationship `yaml:"array_relationships"`
			SelectPermissions   []struct {
				Role       string `yaml:"role"`
				Permission struct {
					Columns           yaml.Node      `yaml:"columns"`
					Filter            map[string]any `yaml:"filter"`
					Limit             int            `yaml:"limit"`
					AllowAggregations bool           `yaml:"allow_aggregations"`
				} `yaml:"permission"`
			} `yaml:"select_permissions"`
			InsertPermissions []struct {
				Role string `yaml:"role"`
			} `yaml:"insert_permissions"`
			UpdatePermissions []struct {
				Role string `yaml:"role"`
			} `yaml:"update_permissions"`
			DeletePermissions []struct {
				Role string `yaml:"role"`
			} `yaml:"delete_permissions"`
		} `yaml:"tables"`
		Functions []struct {
			Function struct {
				Name   string `yaml:"name"`
				Schema string `yaml:"schema"`
			} `yaml:"function"`
			Configuration map[string]any `yaml:"configuration"`
			Permissions   []struct {
				Role string `yaml:"role"`
			} `yaml:"permissions"`
		} `yaml:"functions"`
	}
	if err := root.Decode(&sources); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, "databases", "databases.yaml"), err)
	}
	md := &Metadata{Tables: map[string]*Table{}, Functions: map[string]*Function{}, Actions: map[string]*Action{},
		Types: map[string]*ast.Definition{}}
	for _, src := range sources {
		if src.Name != "default" {
			continue
		}
		if src.Kind != "postgres" {
			return nil, fmt.Errorf("source default: kind %q, the stub serves postgres only", src.Kind)
		}
		for _, t := range src.Tables {
			tab := &Table{Schema: t.Table.Schema, Name: t.Table.Name, Relationships: map[string]*Relationship{},
				Select: map[string]*SelectPermission{}, Modify: map[string]bool{}}
			for _, p := range t.InsertPermissions {
				tab.Modify[p.Role] = true
			}
			for _, p := range t.UpdatePermissions {
				tab.Modify[p.Role] = true
			}
			for _, p := range t.DeletePermissions {
				tab.Modify[p.Role] = true
			}
			if tab.Schema == "" {
				tab.Schema = "public"
			}
			tab.GraphQLName = graphQLName(tab.Schema, tab.Name)
			if t.Configuration.CustomName != "" {
				tab.GraphQLName = t.Configuration.CustomName
			}
			for _, group := range []struct {
				rels  []yamlRelationship
				array bool
			}{{t.ObjectRelationships, false}, {t.ArrayRelationships, true}} {
				for _, r := range group.rels {
					mc := r.Using.ManualConfiguration
					if mc == nil {
						return nil, fmt.Errorf("table %s, relationship %s: only manual_configuration relationships are supported by the stub", tab.GraphQLName, r.Name)
					}
					rs := mc.RemoteTable.Schema
					if rs == "" {
						rs = "public"
					}
					tab.Relationships[r.Name] = &Relationship{Name: r.Name, Array: group.array, RemoteSchema: rs,
						RemoteName: mc.RemoteTable.Name, ColumnMapping: mc.ColumnMapping}
				}
			}
			for _, sp := range t.SelectPermissions {
				p := &SelectPermission{Filter: sp.Permission.Filter, Limit: sp.Permission.Limit,
					AllowAggregations: sp.Permission.AllowAggregations}
				switch c := sp.Permission.Columns; c.Kind {
				case yaml.ScalarNode:
					if c.Value != "*" {
						return nil, fmt.Errorf("table %s, role %s: columns %q: want a list or \"*\"", tab.GraphQLName, sp.Role, c.Value)
					}
					p.AllColumns = true
				case yaml.SequenceNode:
					if err := c.Decode(&p.Columns); err != nil {
						return nil, fmt.Errorf("table %s, role %s: columns: %w", tab.GraphQLName, sp.Role, err)
					}
				}
				tab.Select[sp.Role] = p
			}
			md.Tables[tab.GraphQLName] = tab
		}
		for _, f := range src.Functions {
			fn := &Function{Schema: f.Function.Schema, Name: f.Function.Name}
			if fn.Schema == "" {
				fn.Schema = "public"
			}
			fn.GraphQLName = graphQLName(fn.Schema, fn.Name)
			if len(f.Configuration) > 0 {
				return nil, fmt.Errorf("function %s: configuration %v is not supported by the stub", fn.GraphQLName, f.Configuration)
			}
			for _, p := range f.Permissions {
				fn.Roles = append(fn.Roles, p.Role)
			}
			md.Functions[fn.GraphQLName] = fn
		}
	}
	if len(md.Tables) == 0 {
		return nil, fmt.Errorf("%s: no tables tracked in source default", dir)
	}
	if err := loadActions(dir, md); err != nil {
		return nil, err
	}
	return md, nil
}

// TableNames returns the GraphQL names of the tracked tables, sorted.
func (m *Metadata) TableNames() []string {
	out := make([]string, 0, len(m.Tables))
	for n := range m.Tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// tableAt finds the tracked table with that schema and name.
func (m *Metadata) tableAt(schema, name string) *Table {
	for _, t := range m.Tables {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}

func graphQLName(schema, name string) string {
	if schema == "public" {
		return name
	}
	return schema + "_" + name
}

type yamlRelationship struct {
	Name  string `yaml:"name"`
	Using struct {
		ManualConfiguration *struct {
			RemoteTable struct {
				Name   string `yaml:"name"`
				Schema string `yaml:"schema"`
			} `yaml:"remote_table"`
			ColumnMapping map[string]string `yaml:"column_mapping"`
		} `yaml:"manual_configuration"`
	} `yaml:"using"`
}

// loadYAML parses file and resolves its "!include" values (quoted strings, as the Hasura CLI writes them, or the
// !include tag) recursively.
func loadYAML(file string) (*yaml.Node, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read hasura metadata: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, nil
	}
	var resolve func(n *yaml.Node) (*yaml.Node, error)
	resolve = func(n *yaml.Node) (*yaml.Node, error) {
		if n.Kind == yaml.ScalarNode {
			inc, ok := strings.CutPrefix(n.Value, "!include ")
			if n.Tag == "!include" {
				inc, ok = n.Value, true
			}
			if ok {
				return loadYAML(filepath.Join(filepath.Dir(file), strings.TrimSpace(inc)))
			}
			return n, nil
		}
		for i, c := range n.Content {
			r, err := resolve(c)
			if err != nil {
				return nil, err
			}
			n.Content[i] = r
		}
		return n, nil
	}
	return resolve(doc.Content[0])
}
