package hasurastub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// actionCall is one root field answered by an action's handler (with its input), or, in a mutation, __typename.
type actionCall struct {
	key    string
	action *actionInfo // nil for __typename
	input  jsObj
	field  *ast.Field
}

// mutationField compiles a field of mutation_root: a mutation action the role may call. Hasura's own mutations
// (insert, update, delete on a table the role may modify) are not implemented.
func (c *compiler) mutationField(f *ast.Field, key, path string) (*actionCall, *gqlError) {
	if len(f.Directives) > 0 {
		return nil, unsupported(path, "directives")
	}
	if f.Name == "__typename" {
		return &actionCall{key: key, field: f}, nil
	}
	a := c.s.visibleAction(f.Name, false, c.role)
	if a == nil {
		if c.s.modifyField(c.role, f.Name) {
			return nil, unsupported(path, "insert, update and delete mutations")
		}
		return nil, validationError(path, "field '%s' not found in type: 'mutation_root'", f.Name)
	}
	return c.actionField(a, f, key, path)
}

// visibleAction returns the action of that name and root (query or mutation) if role may call it: the field
// exists in the role's schema only then (Hasura.GraphQL.Schema.Action, actionExecute: the permission check).
func (s *Server) visibleAction(name string, query bool, role string) *actionInfo {
	a := s.actions[name]
	if a == nil || a.meta.Query != query || !slices.Contains(a.meta.Roles, role) {
		return nil
	}
	return a
}

// actionField compiles a call of action a: its arguments, checked against the SDL, and its selection set.
func (c *compiler) actionField(a *actionInfo, f *ast.Field, key, path string) (*actionCall, *gqlError) {
	if len(f.Directives) > 0 {
		return nil, unsupported(path, "directives")
	}
	input := jsObj{}
	given := map[string]*ast.Value{}
	for _, arg := range f.Arguments {
		if a.meta.Arguments.ForName(arg.Name) == nil {
			return nil, validationError(path, "'%s' has no argument named '%s'", f.Name, arg.Name)
		}
		given[arg.Name] = arg.Value
	}
	// Hasura.GraphQL.Schema.Action (actionInputArguments): an omitted nullable argument is left out of the input,
	// an explicit null is sent as null.
	for _, def := range a.meta.Arguments {
		v, ok := given[def.Name]
		if !ok {
			if def.Type.NonNull && def.DefaultValue == nil {
				return nil, validationError(path+".args", "missing required field '%s'", def.Name)
			}
			if def.DefaultValue != nil {
				input = append(input, jsField{name: def.Name, val: c.toJS(node{lit: def.DefaultValue})})
			}
			continue
		}
		n := node{lit: v}
		if v.Kind == ast.Variable {
			if _, provided := c.vars[v.Raw]; !provided && c.defs[v.Raw] != nil && c.defs[v.Raw].DefaultValue == nil {
				if def.Type.NonNull {
					return nil, validationError(path+".args", "missing required field '%s'", def.Name)
				}
				continue // a nullable argument given an unset variable is absent
			}
		}
		val, gerr := c.inputValue(n, def.Type, path+".args."+def.Name)
		if gerr != nil {
			return nil, gerr
		}
		input = append(input, jsField{name: def.Name, val: val})
	}
	if gerr := c.checkOutput(a.meta.Output, f, path); gerr != nil {
		return nil, gerr
	}
	return &actionCall{key: key, action: a, input: input, field: f}, nil
}

// inputValue coerces an argument value to the action's input type t, returning its JSON.
func (c *compiler) inputValue(n node, t *ast.Type, path string) (any, *gqlError) {
	n, gerr := c.at(n, t, path)
	if gerr != nil {
		return nil, gerr
	}
	if n.kind() == "null" {
		if t.NonNull {
			return nil, validationError(path, "unexpected null value for type '%s'", typeString(t))
		}
		return nil, nil
	}
	if t.Elem != nil {
		out := []any{}
		for i, item := range n.items() {
			ip := path
			if n.kind() == "list" {
				ip = fmt.Sprintf("%s[%d]", path, i)
			}
			v, gerr := c.inputValue(item, t.Elem, ip)
			if gerr != nil {
				return nil, gerr
			}
			out = append(out, v)
		}
		return out, nil
	}
	name := t.NamedType
	mismatch := func(want string) *gqlError {
		return validationError(path, "expected %s for type '%s', but found %s", want, name, n.found())
	}
	k := n.kind()
	switch name {
	case "String", "uuid", "timestamptz", "timestamp", "date", "time", "timetz", "text", "citext":
		if k != "string" {
			return nil, mismatch("a string")
		}
		return n.text(), nil
	case "ID":
		if k != "string" && (k != "number" || strings.ContainsAny(n.text(), ".eE")) {
			return nil, mismatch("a string or an integer")
		}
		return n.text(), nil
	case "Int", "smallint", "bigint":
		if k != "number" || strings.ContainsAny(n.text(), ".eE") {
			return nil, mismatch("an integer")
		}
		return json.Number(n.text()), nil
	case "Float", "float8", "numeric":
		if k != "number" {
			return nil, mismatch("a number")
		}
		return json.Number(n.text()), nil
	case "Boolean":
		if k != "boolean" {
			return nil, mismatch("a boolean")
		}
		return n.text() == "true", nil
	case "jsonb", "json":
		return c.toJS(n), nil
	}
	def := c.s.md.Types[name]
	switch {
	case def == nil || def.Kind == ast.Scalar: // a custom scalar takes any JSON value
		return c.toJS(n), nil
	case def.Kind == ast.Enum:
		want := "enum"
		if n.isJS {
			want = "string"
		}
		if k != want || def.EnumValues.ForName(n.text()) == nil {
			var vals []string
			for _, v := range def.EnumValues {
				vals = append(vals, "'"+v.Name+"'")
			}
			return nil, validationError(path, "expected one of the values [%s] for type '%s', but found %s", strings.Join(vals, ", "), name, n.found())
		}
		return n.text(), nil
	case def.Kind == ast.InputObject:
		if k != "object" {
			return nil, mismatch("an object")
		}
		out := jsObj{}
		seen := map[string]bool{}
		for _, fl := range n.fields() {
			fd := def.Fields.ForName(fl.name)
			if fd == nil {
				return nil, validationError(path+"."+fl.name, "field '%s' not found in type: '%s'", fl.name, name)
			}
			seen[fl.name] = true
			v, gerr := c.inputValue(fl.val, fd.Type, path+"."+fl.name)
			if gerr != nil {
				return nil, gerr
			}
			out = append(out, jsField{name: fl.name, val: v})
		}
		for _, fd := range def.Fields {
			if fd.Type.NonNull && fd.DefaultValue == nil && !seen[fd.Name] {
				return nil, validationError(path, "missing required field '%s'", fd.Name)
			}
		}
		return out, nil
	}
	return nil, unsupported(path, "input type %s", name)
}

// objectType returns the custom object type t names (through lists), or nil for a scalar or enum.
func (s *Server) objectType(t *ast.Type) *ast.Definition {
	for t.Elem != nil {
		t = t.Elem
	}
	if d := s.md.Types[t.NamedType]; d != nil && d.Kind == ast.Object {
		return d
	}
	return nil
}

// checkOutput checks f's selection set against the output type t, as Hasura's parser does.
func (c *compiler) checkOutput(t *ast.Type, f *ast.Field, path string) *gqlError {
	obj := c.s.objectType(t)
	if obj == nil {
		if len(f.SelectionSet) > 0 {
			return validationError(path, "unexpected subselection set for non-object field")
		}
		return nil
	}
	if len(f.SelectionSet) == 0 {
		return validationError(path, "missing selection set for '%s'", obj.Name)
	}
	seen := map[string]bool{}
	for _, sel := range f.SelectionSet {
		sf, ok := sel.(*ast.Field)
		if !ok {
			return unsupported(path+".selectionSet", "fragments")
		}
		key := responseKey(sf)
		p := path + ".selectionSet." + key
		switch {
		case seen[key]:
			return unsupported(p, "repeated response keys")
		case len(sf.Directives) > 0:
			return unsupported(p, "directives")
		case len(sf.Arguments) > 0:
			return validationError(p, "'%s' has no argument named '%s'", sf.Name, sf.Arguments[0].Name)
		}
		seen[key] = true
		if sf.Name == "__typename" {
			continue
		}
		fd := obj.Fields.ForName(sf.Name)
		if fd == nil {
			return validationError(p, "field '%s' not found in type: '%s'", sf.Name, obj.Name)
		}
		if gerr := c.checkOutput(fd.Type, sf, p); gerr != nil {
			return gerr
		}
	}
	return nil
}

// session is who a request runs as: the role and session variables (names in lower case) from the auth webhook
// (or the fixed role), and the client's headers, which an action with forward_client_headers passes on.
type session struct {
	role    string
	vars    map[string]string
	headers http.Header
}

// runQuery answers a query whose root fields include query actions: the tables' and functions' fields in one SQL
// statement, as any query, and each action by calling its handler; the data object has the root fields in the
// order asked. As in Hasura, one failing field fails the whole request: its error is the response's only one.
func (s *Server) runQuery(ctx context.Context, pl *plan, sess *session, query string) (string, *gqlError) {
	if len(pl.actions) == 0 {
		data, _, gerr := s.run(ctx, pl)
		return data, gerr
	}
	values := map[string]any{}
	if pl.sql != "" {
		data, _, gerr := s.run(ctx, pl)
		if gerr != nil {
			return "", gerr
		}
		v, err := decodeJSON([]byte(data))
		if err != nil {
			return "", &gqlError{Message: err.Error(), Code: codeUnexpected, Path: "$"}
		}
		obj, _ := v.(jsObj)
		for _, f := range obj {
			values[f.name] = f.val
		}
	}
	for _, call := range pl.actions {
		v, gerr := s.callAction(ctx, call, sess, query)
		if gerr != nil {
			return "", gerr
		}
		values[call.key] = v
	}
	out := make(jsObj, 0, len(pl.keys))
	for _, k := range pl.keys {
		out = append(out, jsField{name: k, val: values[k]})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", &gqlError{Message: err.Error(), Code: codeUnexpected, Path: "$"}
	}
	return string(b), nil
}

// runMutation calls each action of the plan in order, as Hasura runs a mutation's root fields, and returns the
// data JSON. The first error ends the mutation and is the response's only error.
func (s *Server) runMutation(ctx context.Context, pl *plan, sess *session, query string) (string, *gqlError) {
	data := jsObj{}
	for _, call := range pl.actions {
		if call.action == nil {
			data = append(data, jsField{name: call.key, val: "mutation_root"})
			continue
		}
		v, gerr := s.callAction(ctx, call, sess, query)
		if gerr != nil {
			return "", gerr
		}
		data = append(data, jsField{name: call.key, val: v})
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", &gqlError{Message: err.Error(), Code: codeUnexpected, Path: "$"}
	}
	return string(b), nil
}

// ignoredClientHeaders are the client headers Hasura neither forwards to an action handler nor sends to a GET auth
// webhook (Hasura.Server.Utils, commonClientHeadersIgnored).
var ignoredClientHeaders = []string{"Content-Length", "Content-MD5", "User-Agent", "Host", "Origin", "Referer",
	"Accept", "Accept-Encoding", "Accept-Language", "Accept-Datetime", "Cache-Control", "Connection", "DNT",
	"Content-Type"}

func ignoredHeader(name string) bool {
	return slices.ContainsFunc(ignoredClientHeaders, func(h string) bool { return strings.EqualFold(h, name) })
}

// callAction POSTs one action call to its handler the way Hasura does (Hasura.GraphQL.Execute.Action,
// callWebhook): the payload {action: {name}, input, session_variables, request_query}, the action's headers,
// Content-Type: application/json, and with forward_client_headers the client's headers (minus the ignored ones
// and the session variables, plus X-Forwarded-Host, -User-Agent and -Origin); a configured header wins over a
// client's of the same name. A 2xx body is the result, checked against the output type and projected on the
// selection set; a 4xx body {message, code?, extensions?} is the error; anything else is "internal error".
func (s *Server) callAction(ctx context.Context, call *actionCall, sess *session, query string) (any, *gqlError) {
	a := call.action
	payload := map[string]any{
		"action":            map[string]string{"name": a.meta.Name},
		"input":             call.input,
		"session_variables": sess.vars,
		"request_query":     query,
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, &gqlError{Message: err.Error(), Code: codeUnexpected, Path: "$"}
	}
	ctx, cancel := context.WithTimeout(ctx, a.meta.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return nil, &gqlError{Message: "internal error", Code: codeUnexpected, Path: "$"}
	}
	if a.meta.ForwardClientHeaders {
		for name, vals := range sess.headers {
			switch {
			case strings.EqualFold(name, "Host"):
				req.Header["X-Forwarded-Host"] = vals
			case strings.EqualFold(name, "User-Agent"):
				req.Header["X-Forwarded-User-Agent"] = vals
			case strings.EqualFold(name, "Origin"):
				req.Header["X-Forwarded-Origin"] = vals
			}
			if ignoredHeader(name) || strings.HasPrefix(strings.ToLower(name), "x-hasura-") {
				continue
			}
			req.Header[http.CanonicalHeaderKey(name)] = vals
		}
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range a.headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &gqlError{Message: "http exception when calling webhook", Code: codeUnexpected, Path: "$"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &gqlError{Message: "http exception when calling webhook", Code: codeUnexpected, Path: "$"}
	}
	value, err := decodeJSON(raw)
	if err != nil {
		return nil, &gqlError{Message: "not a valid json response from webhook", Code: codeUnexpected, Path: "$"}
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if gerr := s.checkResponse(a.meta.Output, value); gerr != nil {
			return nil, gerr
		}
		return s.project(a.meta.Output, call.field, value), nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return nil, actionError(value)
	default:
		return nil, &gqlError{Message: "internal error", Code: codeUnexpected, Path: "$"}
	}
}

// actionError turns a handler's 4xx body into Hasura's error: message, and as extensions the handler's
// extensions when it gave some (then its code is ignored), else {path: "$", code: code or "unexpected"}
// (Hasura.Base.Error, encodeGQLErr).
func actionError(v any) *gqlError {
	obj, _ := v.(jsObj)
	var msg *string
	code := codeUnexpected
	var ext json.RawMessage
	for _, f := range obj {
		switch f.name {
		case "message":
			if s, ok := f.val.(string); ok {
				msg = &s
			}
		case "code":
			if s, ok := f.val.(string); ok {
				code = s
			}
		case "extensions":
			if f.val != nil {
				ext, _ = json.Marshal(f.val)
			}
		}
	}
	if msg == nil {
		// decodeValue of ActionWebhookErrorResponse fails: a parse-failed error (Hasura.Base.Error, formatMsg).
		return &gqlError{Message: "the key 'message' was not present", Code: "parse-failed", Path: "$"}
	}
	return &gqlError{Message: *msg, Code: code, Path: "$", Extensions: ext}
}

// checkResponse checks a 2xx body against the action's output type as Hasura does before using it: null only for a
// nullable type, an object for an object type, a list for a list type, and every non-nullable field of the
// object(s) present and not null.
func (s *Server) checkResponse(t *ast.Type, v any) *gqlError {
	unexpected := func(format string, args ...any) *gqlError {
		return &gqlError{Message: fmt.Sprintf(format, args...), Code: codeUnexpected, Path: "$"}
	}
	checkObject := func(o jsObj) *gqlError {
		obj := s.objectType(t)
		if obj == nil {
			return nil
		}
		for _, fd := range obj.Fields {
			if !fd.Type.NonNull {
				continue
			}
			i := slices.IndexFunc(o, func(f jsField) bool { return f.name == fd.Name })
			if i < 0 {
				return unexpected("field %q expected in webhook response, but not found", fd.Name)
			}
			if o[i].val == nil {
				return unexpected("expecting not null value for field %q", fd.Name)
			}
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
		if t.NonNull {
			return unexpected("got null for the action webhook response")
		}
	case []any:
		if t.Elem == nil {
			return unexpected("got array for the action webhook response, might want to check the action return type defined!")
		}
		for _, e := range x {
			if o, ok := e.(jsObj); ok {
				if gerr := checkObject(o); gerr != nil {
					return gerr
				}
			}
		}
	case jsObj:
		if t.Elem != nil || s.objectType(t) == nil {
			return unexpected("got object for the action webhook response, might want to check the action return type defined!")
		}
		return checkObject(x)
	}
	return nil
}

// project applies the selection set of f to a value of type t: the fields asked for, under their response keys,
// in the order asked; a field the response lacks is null.
func (s *Server) project(t *ast.Type, f *ast.Field, v any) any {
	obj := s.objectType(t)
	if obj == nil || v == nil {
		return v
	}
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		elem := t
		if t.Elem != nil {
			elem = t.Elem
		}
		for i, e := range list {
			out[i] = s.project(elem, f, e)
		}
		return out
	}
	o, ok := v.(jsObj)
	if !ok {
		return v
	}
	out := jsObj{}
	for _, sel := range f.SelectionSet {
		sf := sel.(*ast.Field)
		if sf.Name == "__typename" {
			out = append(out, jsField{name: responseKey(sf), val: obj.Name})
			continue
		}
		var val any
		if i := slices.IndexFunc(o, func(fl jsField) bool { return fl.name == sf.Name }); i >= 0 {
			val = o[i].val
		}
		out = append(out, jsField{name: responseKey(sf), val: s.project(obj.Fields.ForName(sf.Name).Type, sf, val)})
	}
	return out
}
