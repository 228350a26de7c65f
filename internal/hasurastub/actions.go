package hasurastub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// Action is a synchronous action: a field of mutation_root (a mutation action) or of query_root (a query action,
// always synchronous) that Hasura answers by POSTing the call to an HTTP handler
// (https://hasura.io/docs/latest/actions/action-handlers/). Its signature and custom types come from
// actions.graphql (type Mutation or type Query), the rest from actions.yaml.
type Action struct {
	Name string
	// Query is true for a query action (definition.type: query), false for a mutation action (the default).
	Query bool
	// Handler is the handler URL as written in the metadata: a template whose {{ENV_VAR}} parts are resolved from
	// the environment when the Server opens (WithEnv), as Hasura resolves them when it builds its schema.
	Handler              string
	ForwardClientHeaders bool
	Headers              []ActionHeader
	Timeout              time.Duration // definition.timeout; Hasura's default is 30 s
	Roles                []string      // the roles of its permissions: the roles that see the field
	Arguments            ast.ArgumentDefinitionList
	Output               *ast.Type
}

// ActionHeader is a header Hasura adds to every call of an action's handler: a literal Value, or the value of the
// environment variable ValueFromEnv.
type ActionHeader struct {
	Name, Value, ValueFromEnv string
}

// loadActions reads actions.yaml and actions.graphql of a metadata directory, when present, into md.
func loadActions(dir string, md *Metadata) error {
	yamlFile := filepath.Join(dir, "actions.yaml")
	if _, err := os.Stat(yamlFile); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	root, err := loadYAML(yamlFile)
	if err != nil {
		return err
	}
	var doc struct {
		Actions []struct {
			Name       string `yaml:"name"`
			Definition struct {
				Kind                 string         `yaml:"kind"`
				Type                 string         `yaml:"type"`
				Handler              string         `yaml:"handler"`
				ForwardClientHeaders bool           `yaml:"forward_client_headers"`
				Timeout              int            `yaml:"timeout"`
				RequestTransform     map[string]any `yaml:"request_transform"`
				ResponseTransform    map[string]any `yaml:"response_transform"`
				Headers              []struct {
					Name         string `yaml:"name"`
					Value        string `yaml:"value"`
					ValueFromEnv string `yaml:"value_from_env"`
				} `yaml:"headers"`
			} `yaml:"definition"`
			Permissions []struct {
				Role string `yaml:"role"`
			} `yaml:"permissions"`
		} `yaml:"actions"`
	}
	if err := root.Decode(&doc); err != nil {
		return fmt.Errorf("decode %s: %w", yamlFile, err)
	}
	sdlFile := filepath.Join(dir, "actions.graphql")
	sdl, err := os.ReadFile(sdlFile)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && len(doc.Actions) == 0) {
		return fmt.Errorf("read hasura metadata: %w", err)
	}
	schema, perr := parser.ParseSchema(&ast.Source{Name: sdlFile, Input: string(sdl)})
	if perr != nil {
		return fmt.Errorf("parse %s: %w", sdlFile, perr)
	}
	// Hasura.RQL.Types.Action (ActionDefinition's FromJSON): definition.type is "mutation" (the default) or
	// "query"; kind is read for mutations only, a query action being always synchronous
	// (https://hasura.io/docs/latest/actions/async-actions/).
	signatures := map[string]map[string]*ast.FieldDefinition{"Mutation": {}, "Query": {}}
	for _, def := range append(append(ast.DefinitionList{}, schema.Definitions...), schema.Extensions...) {
		switch {
		case (def.Name == "Mutation" || def.Name == "Query") && def.Kind == ast.Object:
			for _, f := range def.Fields {
				signatures[def.Name][f.Name] = f
			}
		case def.Name == "Subscription":
			return fmt.Errorf("%s: type %s: Hasura has no subscription actions", sdlFile, def.Name)
		default:
			md.Types[def.Name] = def
		}
	}
	for _, a := range doc.Actions {
		d := a.Definition
		root := "Mutation"
		if d.Type == "query" {
			root = "Query"
		}
		sig := signatures[root][a.Name]
		switch {
		case d.Type != "" && d.Type != "mutation" && d.Type != "query":
			return fmt.Errorf("action %s: expected mutation or query, but found %s", a.Name, d.Type)
		case root == "Mutation" && d.Kind != "" && d.Kind != "synchronous":
			return fmt.Errorf("action %s: kind %s: the stub serves synchronous actions only", a.Name, d.Kind)
		case d.RequestTransform != nil || d.ResponseTransform != nil:
			return fmt.Errorf("action %s: request and response transforms are not supported by the stub", a.Name)
		case sig == nil:
			return fmt.Errorf("action %s: no field %s in type %s of %s", a.Name, a.Name, root, sdlFile)
		}
		act := &Action{Name: a.Name, Query: root == "Query", Handler: d.Handler, ForwardClientHeaders: d.ForwardClientHeaders,
			Timeout: 30 * time.Second, Arguments: sig.Arguments, Output: sig.Type}
		if d.Timeout > 0 {
			act.Timeout = time.Duration(d.Timeout) * time.Second
		}
		for _, h := range d.Headers {
			act.Headers = append(act.Headers, ActionHeader{Name: h.Name, Value: h.Value, ValueFromEnv: h.ValueFromEnv})
		}
		for _, p := range a.Permissions {
			act.Roles = append(act.Roles, p.Role)
		}
		md.Actions[a.Name] = act
	}
	return nil
}

// actionInfo is an action whose handler URL and headers are resolved from the environment.
type actionInfo struct {
	meta    *Action
	url     string
	headers [][2]string
}

var envTemplate = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// resolveActions resolves every action's handler template and headers from the environment. An action whose
// template or header names an unset variable is inconsistent: Hasura leaves it out of the schema (and reports it
// in the metadata's inconsistencies), and so does the stub, listing it in Server.InconsistentObjects.
func (s *Server) resolveActions() {
	s.actions = map[string]*actionInfo{}
	names := make([]string, 0, len(s.md.Actions))
	for n := range s.md.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		a := s.md.Actions[name]
		var missing []string
		url := envTemplate.ReplaceAllStringFunc(a.Handler, func(m string) string {
			key := envTemplate.FindStringSubmatch(m)[1]
			v, ok := s.lookupEnv(key)
			if !ok {
				missing = append(missing, key)
			}
			return v
		})
		ai := &actionInfo{meta: a, url: url}
		for _, h := range a.Headers {
			v := h.Value
			if h.ValueFromEnv != "" {
				var ok bool
				if v, ok = s.lookupEnv(h.ValueFromEnv); !ok {
					missing = append(missing, h.ValueFromEnv)
				}
			}
			ai.headers = append(ai.headers, [2]string{h.Name, v})
		}
		if len(missing) > 0 {
			s.inconsistent = append(s.inconsistent, fmt.Sprintf("action %s: environment variable %s not set", name, strings.Join(missing, ", ")))
			continue
		}
		s.actions[name] = ai
	}
}

// hasMutations reports whether Hasura gives role a mutation_root: a mutation action it may call, or a table it may
// insert into, update or delete from.
func (s *Server) hasMutations(role string) bool {
	for _, a := range s.actions {
		if !a.meta.Query && slices.Contains(a.meta.Roles, role) {
			return true
		}
	}
	for _, t := range s.md.Tables {
		if t.Modify[role] {
			return true
		}
	}
	return false
}

// modifyField reports whether name is a mutation field Hasura generates for role on a table it may modify.
func (s *Server) modifyField(role, name string) bool {
	for gql, t := range s.md.Tables {
		if !t.Modify[role] {
			continue
		}
		for _, f := range []string{"insert_", "update_", "delete_"} {
			for _, suffix := range []string{"", "_one", "_by_pk", "_many"} {
				if name == f+gql+suffix {
					return true
				}
			}
		}
	}
	return false
}

// InconsistentObjects lists the metadata objects left out of the schema because they could not be resolved (an
// action naming an unset environment variable), as Hasura's get_inconsistent_metadata would.
func (s *Server) InconsistentObjects() []string { return append([]string(nil), s.inconsistent...) }
