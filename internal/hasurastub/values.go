package hasurastub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// node is an argument value: a literal of the query document, or JSON from the request's variables. A literal may
// still be a variable reference; compiler.at resolves it, checking the variable's declared type against the type
// expected where it is used.
type node struct {
	lit  *ast.Value
	js   any // nil, bool, string, json.Number, []any, jsObj
	isJS bool
}

// jsObj is a JSON object that keeps its key order (order_by objects are ordered).
type jsObj []jsField

type jsField struct {
	name string
	val  any
}

// MarshalJSON writes the object with its keys in order.
func (o jsObj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeJSON decodes a JSON value keeping object key order and number text.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func readJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := jsObj{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readJSON(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, jsField{name: kt.(string), val: v})
		}
		_, err := dec.Token() // '}'
		return obj, err
	case '[':
		list := []any{}
		for dec.More() {
			v, err := readJSON(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token() // ']'
		return list, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// yamlToJS turns a permission filter decoded from YAML into the JSON form variables have. Keys are sorted, since a
// YAML map has lost its order by now and a filter's meaning does not depend on it.
func yamlToJS(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		if s, ok := x.(string); ok && strings.HasPrefix(strings.ToLower(s), "x-hasura-") {
			return nil, errors.New("session variables in permission filters")
		}
		return x, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := yamlToJS(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := jsObj{}
		for _, k := range keys {
			c, err := yamlToJS(x[k])
			if err != nil {
				return nil, err
			}
			obj = append(obj, jsField{name: k, val: c})
		}
		return obj, nil
	}
	return nil, fmt.Errorf("unsupported value %T in permission filter", v)
}

// kind names the node's kind as GraphQL error messages do.
func (n node) kind() string {
	if n.isJS {
		switch n.js.(type) {
		case nil:
			return "null"
		case bool:
			return "boolean"
		case string:
			return "string"
		case json.Number:
			return "number"
		case []any:
			return "list"
		case jsObj:
			return "object"
		}
		return "unknown"
	}
	switch n.lit.Kind {
	case ast.IntValue, ast.FloatValue:
		return "number"
	case ast.StringValue, ast.BlockValue:
		return "string"
	case ast.BooleanValue:
		return "boolean"
	case ast.NullValue:
		return "null"
	case ast.EnumValue:
		return "enum"
	case ast.ListValue:
		return "list"
	case ast.ObjectValue:
		return "object"
	case ast.Variable:
		return "variable"
	}
	return "unknown"
}

// found describes what a node is, for "expected …, but found …" messages.
func (n node) found() string {
	switch k := n.kind(); k {
	case "null":
		return "null"
	case "object", "enum":
		return "an " + k
	default:
		return "a " + k
	}
}

// text is a scalar node's value as text: the string, the number as written, true/false, the enum name.
func (n node) text() string {
	if n.isJS {
		switch x := n.js.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		}
		return ""
	}
	return n.lit.Raw
}

// fields returns an object node's fields in order.
func (n node) fields() []struct {
	name string
	val  node
} {
	var out []struct {
		name string
		val  node
	}
	if n.isJS {
		for _, f := range n.js.(jsObj) {
			out = append(out, struct {
				name string
				val  node
			}{f.name, node{js: f.val, isJS: true}})
		}
		return out
	}
	for _, c := range n.lit.Children {
		out = append(out, struct {
			name string
			val  node
		}{c.Name, node{lit: c.Value}})
	}
	return out
}

// items returns a list node's elements; a non-list value is a list of itself (GraphQL input coercion).
func (n node) items() []node {
	if n.kind() != "list" {
		return []node{n}
	}
	var out []node
	if n.isJS {
		for _, e := range n.js.([]any) {
			out = append(out, node{js: e, isJS: true})
		}
		return out
	}
	for _, c := range n.lit.Children {
		out = append(out, node{lit: c.Value})
	}
	return out
}

// toJS converts a node to its JSON value, resolving variables inside literals (for jsonb values written as
// GraphQL object literals).
func (c *compiler) toJS(n node) any {
	if n.isJS {
		return n.js
	}
	v := n.lit
	switch v.Kind {
	case ast.Variable:
		return c.vars[v.Raw]
	case ast.IntValue, ast.FloatValue:
		return json.Number(v.Raw)
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.NullValue:
		return nil
	case ast.ListValue:
		out := []any{}
		for _, ch := range v.Children {
			out = append(out, c.toJS(node{lit: ch.Value}))
		}
		return out
	case ast.ObjectValue:
		out := jsObj{}
		for _, ch := range v.Children {
			out = append(out, jsField{name: ch.Name, val: c.toJS(node{lit: ch.Value})})
		}
		return out
	}
	return nil
}

// Types as the positions of Hasura's schema expect them.

func named(name string) *ast.Type            { return &ast.Type{NamedType: name} }
func nonNull(t *ast.Type) *ast.Type          { c := *t; c.NonNull = true; return &c }
func listOf(elem *ast.Type) *ast.Type        { return &ast.Type{Elem: elem} }
func stripNonNull(t *ast.Type) *ast.Type     { c := *t; c.NonNull = false; return &c }
func isList(t *ast.Type) bool                { return t.Elem != nil }
func typeString(t *ast.Type) string          { return t.String() }
func boolExpType(table string) *ast.Type     { return named(table + "_bool_exp") }
func orderByType(table string) *ast.Type     { return named(table + "_order_by") }
func comparisonType(scalar string) string    { return scalar + "_comparison_exp" }
func scalarListType(scalar string) *ast.Type { return listOf(nonNull(named(scalar))) }

// variableAllowed is GraphQL's "All Variable Usages Are Allowed" rule: a variable of type v may be used where
// type want is expected.
func variableAllowed(v, want *ast.Type, hasDefault bool) bool {
	if want.NonNull && !v.NonNull {
		if !hasDefault {
			return false
		}
		v = nonNull(v)
	}
	return typeCompatible(v, want)
}

func typeCompatible(v, want *ast.Type) bool {
	if want.NonNull {
		if !v.NonNull {
			return false
		}
		return typeCompatible(stripNonNull(v), stripNonNull(want))
	}
	if v.NonNull {
		return typeCompatible(stripNonNull(v), want)
	}
	if isList(want) {
		return isList(v) && typeCompatible(v.Elem, want.Elem)
	}
	return !isList(v) && v.NamedType == want.NamedType
}
