package hasurastub

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// compiler turns one GraphQL operation into one SQL statement that returns the "data" object as JSON text, the
// way Hasura does: every selection set becomes row_to_json over a subselect, every list json_agg in order, and
// every value a bind parameter cast to the column's type.
type compiler struct {
	s        *Server
	role     string // the request's role, whose permissions apply
	defs     map[string]*ast.VariableDefinition
	vars     map[string]any
	args     []any
	aliases  int
	inFilter int // > 0 while compiling a permission filter, which may use any column of the table
	op       ast.Operation
	stream   *streamCursor
	actions  []*actionCall
}

// plan is a compiled operation: one SQL statement returning the "data" object as JSON text. For a streaming
// subscription it also returns the cursor's new value, and its cursor parameter is updated between polls.
type plan struct {
	sql     string
	args    []any
	op      ast.Operation
	stream  *streamCursor
	actions []*actionCall // a mutation: its root fields in order; a query: its action fields
	keys    []string      // a query with actions: every root field's response key, in the order asked
}

func (s *Server) compile(query string, variables json.RawMessage, opName, role string) (*plan, *gqlError) {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil, validationError("$.query", "not a valid graphql query")
	}
	var op *ast.OperationDefinition
	switch {
	case opName != "":
		if op = doc.Operations.ForName(opName); op == nil {
			return nil, validationError("$", "no such operation found in the document: %q", opName)
		}
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	default:
		return nil, validationError("$", "exactly one operation has to be present in the document when operationName is not specified")
	}
	switch {
	case op.Operation == ast.Mutation && !s.hasMutations(role):
		// Hasura.GraphQL.Execute.Mutation (convertMutationSelectionSet): a role without any mutation field has no
		// mutation_root at all.
		return nil, validationError("$", "no mutations exist")
	case op.Operation == ast.Subscription && len(op.SelectionSet) != 1:
		// Hasura v2 (Hasura.GraphQL.Execute.Subscription.Plan): a subscription has exactly one root field.
		return nil, validationError("$", "subscriptions must select one top level field")
	case len(doc.Fragments) > 0:
		return nil, unsupported("$.query", "fragments")
	case len(op.Directives) > 0:
		return nil, unsupported("$", "directives")
	}

	c := &compiler{s: s, role: role, defs: map[string]*ast.VariableDefinition{}, vars: map[string]any{}, op: op.Operation}
	provided := jsObj{}
	if len(variables) > 0 && string(variables) != "null" {
		v, err := decodeJSON(variables)
		obj, ok := v.(jsObj)
		if err != nil || !ok {
			return nil, validationError("$.variableValues", "variables must be a JSON object")
		}
		provided = obj
	}
	for _, vd := range op.VariableDefinitions {
		c.defs[vd.Variable] = vd
	}
	var unexpected []string
	for _, f := range provided {
		if c.defs[f.name] == nil {
			unexpected = append(unexpected, f.name)
			continue
		}
		c.vars[f.name] = f.val
	}
	if len(unexpected) > 0 {
		return nil, validationError("$", "unexpected variables in variableValues: %s", strings.Join(unexpected, ", "))
	}
	for _, vd := range op.VariableDefinitions {
		if c.vars[vd.Variable] != nil {
			continue
		}
		switch {
		case vd.DefaultValue != nil:
			c.vars[vd.Variable] = c.toJS(node{lit: vd.DefaultValue})
		case vd.Type.NonNull:
			return nil, validationError("$", "expecting a value for non-nullable variable: %q", vd.Variable)
		}
	}

	var cols, keys []string
	seen := map[string]bool{}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			return nil, unsupported("$.selectionSet", "fragments")
		}
		key := responseKey(f)
		path := "$.selectionSet." + key
		if seen[key] {
			return nil, unsupported(path, "repeated response keys")
		}
		seen[key] = true
		if op.Operation == ast.Mutation {
			call, gerr := c.mutationField(f, key, path)
			if gerr != nil {
				return nil, gerr
			}
			c.actions = append(c.actions, call)
			continue
		}
		keys = append(keys, key)
		if a := s.visibleAction(f.Name, true, role); a != nil && op.Operation == ast.Query {
			call, gerr := c.actionField(a, f, key, path)
			if gerr != nil {
				return nil, gerr
			}
			c.actions = append(c.actions, call)
			continue
		}
		expr, gerr := c.root(f, path)
		if gerr != nil {
			return nil, gerr
		}
		cols = append(cols, expr+" AS "+ident(key))
	}
	if op.Operation == ast.Mutation {
		return &plan{op: op.Operation, actions: c.actions}, nil
	}
	if c.stream != nil {
		return &plan{sql: c.stream.sql, args: c.args, op: op.Operation, stream: c.stream}, nil
	}
	pl := &plan{args: c.args, op: op.Operation}
	if len(cols) > 0 {
		pl.sql = "SELECT row_to_json(_r)::text FROM (SELECT " + strings.Join(cols, ", ") + ") AS _r"
	}
	if len(c.actions) > 0 {
		pl.actions, pl.keys = c.actions, keys
	}
	return pl, nil
}

func responseKey(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func (c *compiler) newAlias() string {
	c.aliases++
	return "_t" + strconv.Itoa(c.aliases)
}

// root compiles a field of query_root.
func (c *compiler) root(f *ast.Field, path string) (string, *gqlError) {
	if len(f.Directives) > 0 {
		return "", unsupported(path, "directives")
	}
	if f.Name == "__typename" {
		if c.op == ast.Subscription {
			return "'subscription_root'::text", nil
		}
		return "'query_root'::text", nil
	}
	if expr, ok, gerr := c.function(f, path); ok {
		return expr, gerr
	}
	names := make([]string, 0, len(c.s.tables))
	for n := range c.s.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ti := c.s.tables[name]
		perm := ti.meta.Select[c.role]
		if perm == nil {
			continue
		}
		switch f.Name {
		case name:
			return c.list(ti, perm, f, path, nil)
		case name + "_by_pk":
			if c.pkReadable(ti, perm) {
				return c.byPK(ti, perm, f, path)
			}
		case name + "_aggregate":
			if perm.AllowAggregations {
				return c.aggregate(ti, perm, f, path, nil)
			}
		case name + "_stream":
			if c.op == ast.Subscription {
				return c.streamField(ti, perm, f, path)
			}
		}
	}
	root := "query_root"
	if c.op == ast.Subscription {
		root = "subscription_root"
	}
	return "", validationError(path, "field '%s' not found in type: '%s'", f.Name, root)
}

// pkReadable reports whether Hasura generates <table>_by_pk for the role: the table has a primary key and the
// role may read all of its columns.
func (c *compiler) pkReadable(ti *tableInfo, perm *SelectPermission) bool {
	if len(ti.pk) == 0 {
		return false
	}
	for _, k := range ti.pk {
		if !perm.Column(k) {
			return false
		}
	}
	return true
}

// readable returns the column if the role may read it (or, inside a permission filter, if it exists).
func (c *compiler) readable(ti *tableInfo, perm *SelectPermission, name string) *column {
	col := ti.columns[name]
	if col == nil || (c.inFilter == 0 && !perm.Column(name)) {
		return nil
	}
	return col
}

// relationship returns the relationship and the remote table if the role may select from the remote table.
func (c *compiler) relationship(ti *tableInfo, name string) (*Relationship, *tableInfo, *SelectPermission) {
	r := ti.meta.Relationships[name]
	if r == nil {
		return nil, nil, nil
	}
	remote := c.s.md.tableAt(r.RemoteSchema, r.RemoteName)
	if remote == nil {
		return nil, nil, nil
	}
	rti := c.s.tables[remote.GraphQLName]
	perm := remote.Select[c.role]
	if rti == nil || perm == nil {
		return nil, nil, nil
	}
	return r, rti, perm
}

// byPK compiles <table>_by_pk(pk columns…): one object or null.
func (c *compiler) byPK(ti *tableInfo, perm *SelectPermission, f *ast.Field, path string) (string, *gqlError) {
	alias := c.newAlias()
	given := map[string]*ast.Value{}
	for _, a := range f.Arguments {
		given[a.Name] = a.Value
	}
	conds := []string{}
	for _, k := range ti.pk {
		v, ok := given[k]
		if !ok {
			return "", validationError(path+".args", "missing required field '%s'", k)
		}
		delete(given, k)
		col := ti.columns[k]
		n, gerr := c.at(node{lit: v}, nonNull(named(col.scalar)), path+".args."+k)
		if gerr != nil {
			return "", gerr
		}
		p, gerr := c.param(n, col.scalar, col.pgType, path+".args."+k)
		if gerr != nil {
			return "", gerr
		}
		conds = append(conds, alias+"."+ident(k)+" = "+p)
	}
	for name := range given {
		return "", validationError(path, "'%s' has no argument named '%s'", f.Name, name)
	}
	pf, gerr := c.permFilter(ti, perm, alias, path)
	if gerr != nil {
		return "", gerr
	}
	if pf != "" {
		conds = append(conds, pf)
	}
	obj, gerr := c.object(ti, perm, alias, f, path)
	if gerr != nil {
		return "", gerr
	}
	return "(SELECT " + obj + " FROM " + ti.sqlName + " AS " + alias + " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1)", nil
}

// rowArgs are the arguments of a list field, compiled over the row alias.
type rowArgs struct {
	conds, order []string
	orderCols    []string // the columns of order, in order, for distinct_on's check
	distinct     []string // distinct_on columns (SQL expressions)
	limit        int      // -1: none
	offset       int      // -1: none
}

// listArgs compiles where, order_by, limit, offset and distinct_on of a list or aggregate field.
func (c *compiler) listArgs(ti *tableInfo, perm *SelectPermission, alias string, f *ast.Field, path string) (rowArgs, *gqlError) {
	ra := rowArgs{limit: -1, offset: -1}
	var distinctCols []string
	for _, a := range f.Arguments {
		ap := path + ".args." + a.Name
		var gerr *gqlError
		switch a.Name {
		case "where":
			var e string
			e, gerr = c.boolExp(ti, perm, alias, node{lit: a.Value}, ap)
			ra.conds = append(ra.conds, e)
		case "order_by":
			ra.order, ra.orderCols, gerr = c.orderBy(ti, perm, alias, node{lit: a.Value}, ap)
		case "limit":
			ra.limit, gerr = c.intArg(node{lit: a.Value}, ap)
		case "offset":
			ra.offset, gerr = c.intArg(node{lit: a.Value}, ap)
		case "distinct_on":
			distinctCols, gerr = c.selectColumns(ti, perm, node{lit: a.Value}, ap)
		default:
			gerr = validationError(path, "'%s' has no argument named '%s'", f.Name, a.Name)
		}
		if gerr != nil {
			return ra, gerr
		}
	}
	if len(distinctCols) > 0 {
		// Hasura (Hasura.GraphQL.Schema.Select, tableDistinctArg): with an order_by, its first len(distinct_on)
		// columns must be the distinct_on columns, in any order.
		if len(ra.orderCols) > 0 {
			ok := len(ra.orderCols) >= len(distinctCols)
			for i := 0; ok && i < len(distinctCols); i++ {
				ok = slicesContains(distinctCols, ra.orderCols[i])
			}
			if !ok {
				return ra, validationError(path+".args", "\"distinct_on\" columns must match initial \"order_by\" columns")
			}
		}
		for _, col := range distinctCols {
			ra.distinct = append(ra.distinct, alias+"."+ident(col))
		}
	}
	return ra, nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// selectColumns reads a [<table>_select_column!] value (distinct_on, count(columns:)): enum values naming
// columns the role may read.
func (c *compiler) selectColumns(ti *tableInfo, perm *SelectPermission, n node, path string) ([]string, *gqlError) {
	typ := ti.meta.GraphQLName + "_select_column"
	n, gerr := c.at(n, listOf(nonNull(named(typ))), path)
	if gerr != nil {
		return nil, gerr
	}
	if n.kind() == "null" {
		return nil, nil
	}
	var out []string
	for i, item := range n.items() {
		ip := path
		if n.kind() == "list" {
			ip = fmt.Sprintf("%s[%d]", path, i)
		}
		item, gerr := c.at(item, nonNull(named(typ)), ip)
		if gerr != nil {
			return nil, gerr
		}
		want := "enum"
		if item.isJS {
			want = "string"
		}
		col := c.readable(ti, perm, item.text())
		if item.kind() != want || col == nil {
			return nil, validationError(ip, "expected one of the values %s for type '%s', but found %s", enumValues(ti, perm), typ, item.found())
		}
		out = append(out, col.name)
	}
	return out, nil
}

// enumValues lists the <table>_select_column values as Hasura's error message does: ['a', 'b'].
func enumValues(ti *tableInfo, perm *SelectPermission) string {
	var names []string
	for name := range ti.columns {
		if perm.Column(name) {
			names = append(names, "'"+name+"'")
		}
	}
	sort.Strings(names)
	return "[" + strings.Join(names, ", ") + "]"
}

// rows compiles the FROM item of a list: the rows of ti the role may see that match ra, distinct, ordered and
// cut by the smaller of the requested limit and the permission's, as a subquery named alias. The permission's
// limit applies here, before aggregation, as in Hasura (an aggregate's count and nodes see at most that many
// rows).
func (c *compiler) rows(ti *tableInfo, perm *SelectPermission, alias string, ra rowArgs, joinOn func(alias string) []string, path string) (string, *gqlError) {
	conds := ra.conds
	if joinOn != nil {
		conds = append(conds, joinOn(alias)...)
	}
	pf, gerr := c.permFilter(ti, perm, alias, path)
	if gerr != nil {
		return "", gerr
	}
	if pf != "" {
		conds = append(conds, pf)
	}
	limit := ra.limit
	if perm.Limit > 0 && (limit < 0 || limit > perm.Limit) {
		limit = perm.Limit
	}
	var b strings.Builder
	b.WriteString("(SELECT ")
	order := ra.order
	if len(ra.distinct) > 0 {
		b.WriteString("DISTINCT ON (" + strings.Join(ra.distinct, ", ") + ") ")
		if len(order) == 0 {
			order = ra.distinct
		}
	}
	b.WriteString(alias + ".* FROM " + ti.sqlName + " AS " + alias)
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	if len(order) > 0 {
		b.WriteString(" ORDER BY " + strings.Join(order, ", "))
	}
	if limit >= 0 {
		b.WriteString(" LIMIT " + strconv.Itoa(limit))
	}
	if ra.offset >= 0 {
		b.WriteString(" OFFSET " + strconv.Itoa(ra.offset))
	}
	b.WriteString(") AS " + alias)
	return b.String(), nil
}

// list compiles a list of rows of ti: a root field or an array relationship (joinOn gives its join conditions).
func (c *compiler) list(ti *tableInfo, perm *SelectPermission, f *ast.Field, path string, joinOn func(alias string) []string) (string, *gqlError) {
	alias := c.newAlias()
	ra, gerr := c.listArgs(ti, perm, alias, f, path)
	if gerr != nil {
		return "", gerr
	}
	from, gerr := c.rows(ti, perm, alias, ra, joinOn, path)
	if gerr != nil {
		return "", gerr
	}
	obj, gerr := c.object(ti, perm, alias, f, path)
	if gerr != nil {
		return "", gerr
	}
	return "(SELECT coalesce(json_agg(" + obj + aggOrder(ra.order) + "), '[]'::json) FROM " + from + ")", nil
}

// aggOrder is the ORDER BY inside json_agg that keeps the rows in the order asked for.
func aggOrder(order []string) string {
	if len(order) == 0 {
		return ""
	}
	return " ORDER BY " + strings.Join(order, ", ")
}

// object compiles the selection set of f over the row alias of ti into a JSON object expression.
func (c *compiler) object(ti *tableInfo, perm *SelectPermission, alias string, f *ast.Field, path string) (string, *gqlError) {
	if len(f.SelectionSet) == 0 {
		return "", validationError(path, "missing selection set for '%s'", ti.meta.GraphQLName)
	}
	var cols []string
	seen := map[string]bool{}
	for _, sel := range f.SelectionSet {
		sf, ok := sel.(*ast.Field)
		if !ok {
			return "", unsupported(path+".selectionSet", "fragments")
		}
		key := responseKey(sf)
		p := path + ".selectionSet." + key
		if seen[key] {
			return "", unsupported(p, "repeated response keys")
		}
		seen[key] = true
		if len(sf.Directives) > 0 {
			return "", unsupported(p, "directives")
		}
		if len(key) > 63 {
			return "", unsupported(p, "response keys longer than 63 bytes")
		}
		var expr string
		if sf.Name == "__typename" {
			expr = "'" + ti.meta.GraphQLName + "'::text"
		} else if col := c.readable(ti, perm, sf.Name); col != nil {
			if len(sf.Arguments) > 0 {
				return "", unsupported(p, "arguments on columns")
			}
			if len(sf.SelectionSet) > 0 {
				return "", validationError(p, "unexpected subselection set for non-object field")
			}
			expr = alias + "." + ident(col.name)
		} else if rel, rti, rperm := c.relationship(ti, sf.Name); rel != nil {
			var gerr *gqlError
			if expr, gerr = c.related(alias, rel, rti, rperm, sf, p); gerr != nil {
				return "", gerr
			}
		} else if rel, rti, rperm := c.relationshipAggregate(ti, sf.Name); rel != nil {
			var gerr *gqlError
			if expr, gerr = c.aggregate(rti, rperm, sf, p, joinOn(rel, alias)); gerr != nil {
				return "", gerr
			}
		} else {
			return "", validationError(p, "field '%s' not found in type: '%s'", sf.Name, ti.meta.GraphQLName)
		}
		cols = append(cols, expr+" AS "+ident(key))
	}
	return "(SELECT row_to_json(_e) FROM (SELECT " + strings.Join(cols, ", ") + ") AS _e)", nil
}

// joinOn gives the join conditions of rel from the row alias to a row ra of the remote table.
func joinOn(rel *Relationship, alias string) func(ra string) []string {
	locals := make([]string, 0, len(rel.ColumnMapping))
	for l := range rel.ColumnMapping {
		locals = append(locals, l)
	}
	sort.Strings(locals)
	return func(ra string) []string {
		var out []string
		for _, l := range locals {
			out = append(out, ra+"."+ident(rel.ColumnMapping[l])+" = "+alias+"."+ident(l))
		}
		return out
	}
}

// relationshipAggregate returns the array relationship that <name>_aggregate names, if Hasura generates that
// field for the role: the remote table's permission allows aggregations
// (https://hasura.io/docs/latest/queries/postgres/aggregation-queries/#nested-aggregate-queries).
func (c *compiler) relationshipAggregate(ti *tableInfo, name string) (*Relationship, *tableInfo, *SelectPermission) {
	base, ok := strings.CutSuffix(name, "_aggregate")
	if !ok {
		return nil, nil, nil
	}
	rel, rti, rperm := c.relationship(ti, base)
	if rel == nil || !rel.Array || !rperm.AllowAggregations {
		return nil, nil, nil
	}
	return rel, rti, rperm
}

// related compiles a relationship field: an object (or null) or a list.
func (c *compiler) related(alias string, rel *Relationship, rti *tableInfo, rperm *SelectPermission, f *ast.Field, path string) (string, *gqlError) {
	joinOn := joinOn(rel, alias)
	if rel.Array {
		return c.list(rti, rperm, f, path, joinOn)
	}
	if len(f.Arguments) > 0 {
		return "", validationError(path, "'%s' has no argument named '%s'", f.Name, f.Arguments[0].Name)
	}
	ra := c.newAlias()
	conds := joinOn(ra)
	pf, gerr := c.permFilter(rti, rperm, ra, path)
	if gerr != nil {
		return "", gerr
	}
	if pf != "" {
		conds = append(conds, pf)
	}
	obj, gerr := c.object(rti, rperm, ra, f, path)
	if gerr != nil {
		return "", gerr
	}
	return "(SELECT " + obj + " FROM " + rti.sqlName + " AS " + ra + " WHERE " + strings.Join(conds, " AND ") + " LIMIT 1)", nil
}

// permFilter compiles the role's row filter on ti ("" when it has none).
func (c *compiler) permFilter(ti *tableInfo, perm *SelectPermission, alias, path string) (string, *gqlError) {
	if len(perm.Filter) == 0 {
		return "", nil
	}
	js, err := yamlToJS(perm.Filter)
	if err != nil {
		return "", unsupported(path, "%v", err)
	}
	c.inFilter++
	defer func() { c.inFilter-- }()
	return c.boolExp(ti, perm, alias, node{js: js, isJS: true}, path)
}

// at resolves a variable reference, checking that its declared type may be used where want is expected.
func (c *compiler) at(n node, want *ast.Type, path string) (node, *gqlError) {
	if n.isJS || n.lit.Kind != ast.Variable {
		return n, nil
	}
	name := n.lit.Raw
	def := c.defs[name]
	if def == nil {
		return node{}, validationError(path, "unbound variable %q", name)
	}
	if !variableAllowed(def.Type, want, def.DefaultValue != nil) {
		return node{}, validationError(path, "variable '%s' is declared as '%s', but used where '%s' is expected",
			name, typeString(def.Type), typeString(want))
	}
	return node{js: c.vars[name], isJS: true}, nil
}

// boolExp compiles a <table>_bool_exp.
func (c *compiler) boolExp(ti *tableInfo, perm *SelectPermission, alias string, n node, path string) (string, *gqlError) {
	typ := boolExpType(ti.meta.GraphQLName)
	n, gerr := c.at(n, typ, path)
	if gerr != nil {
		return "", gerr
	}
	if n.kind() != "object" {
		return "", validationError(path, "expected an object for type '%s', but found %s", typ.NamedType, n.found())
	}
	var parts []string
	for _, f := range n.fields() {
		p := path + "." + f.name
		var e string
		var gerr *gqlError
		switch f.name {
		case "_and", "_or":
			e, gerr = c.boolList(ti, perm, alias, f.name, f.val, p)
		case "_not":
			e, gerr = c.boolExp(ti, perm, alias, f.val, p)
			e = "NOT " + e
		default:
			if col := c.readable(ti, perm, f.name); col != nil {
				e, gerr = c.comparison(col, alias+"."+ident(col.name), f.val, p)
			} else if rel, rti, rperm := c.relationship(ti, f.name); rel != nil {
				e, gerr = c.exists(alias, rel, rti, rperm, f.val, p)
			} else {
				gerr = validationError(p, "field '%s' not found in type: '%s'", f.name, typ.NamedType)
			}
		}
		if gerr != nil {
			return "", gerr
		}
		parts = append(parts, e)
	}
	if len(parts) == 0 {
		return "true", nil // Hasura: {} is true
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

func (c *compiler) boolList(ti *tableInfo, perm *SelectPermission, alias, op string, n node, path string) (string, *gqlError) {
	n, gerr := c.at(n, listOf(nonNull(boolExpType(ti.meta.GraphQLName))), path)
	if gerr != nil {
		return "", gerr
	}
	if n.kind() == "null" {
		return "", validationError(path, "unexpected null value for type '[%s!]'", boolExpType(ti.meta.GraphQLName).NamedType)
	}
	var parts []string
	for i, item := range n.items() {
		e, gerr := c.boolExp(ti, perm, alias, item, fmt.Sprintf("%s[%d]", path, i))
		if gerr != nil {
			return "", gerr
		}
		parts = append(parts, e)
	}
	if len(parts) == 0 {
		if op == "_and" {
			return "true", nil
		}
		return "false", nil
	}
	joiner := " AND "
	if op == "_or" {
		joiner = " OR "
	}
	return "(" + strings.Join(parts, joiner) + ")", nil
}

// exists compiles a condition on a relationship: some related row matches.
func (c *compiler) exists(alias string, rel *Relationship, rti *tableInfo, rperm *SelectPermission, n node, path string) (string, *gqlError) {
	ra := c.newAlias()
	var conds []string
	for l, r := range rel.ColumnMapping {
		conds = append(conds, ra+"."+ident(r)+" = "+alias+"."+ident(l))
	}
	sort.Strings(conds)
	pf, gerr := c.permFilter(rti, rperm, ra, path)
	if gerr != nil {
		return "", gerr
	}
	if pf != "" {
		conds = append(conds, pf)
	}
	e, gerr := c.boolExp(rti, rperm, ra, n, path)
	if gerr != nil {
		return "", gerr
	}
	conds = append(conds, e)
	return "EXISTS (SELECT 1 FROM " + rti.sqlName + " AS " + ra + " WHERE " + strings.Join(conds, " AND ") + ")", nil
}

var (
	compareOps = map[string]string{"_eq": "=", "_neq": "<>", "_gt": ">", "_gte": ">=", "_lt": "<", "_lte": "<="}
	textOps    = map[string]string{"_like": "LIKE", "_nlike": "NOT LIKE", "_ilike": "ILIKE", "_nilike": "NOT ILIKE",
		"_similar": "SIMILAR TO", "_nsimilar": "NOT SIMILAR TO", "_regex": "~", "_nregex": "!~", "_iregex": "~*", "_niregex": "!~*"}
	jsonbOps = map[string]string{"_contains": "@>", "_contained_in": "<@"}
	keyOps   = map[string]string{"_has_keys_any": "?|", "_has_keys_all": "?&"}
)

// comparison compiles a <scalar>_comparison_exp on one column.
func (c *compiler) comparison(col *column, expr string, n node, path string) (string, *gqlError) {
	typ := comparisonType(col.scalar)
	n, gerr := c.at(n, named(typ), path)
	if gerr != nil {
		return "", gerr
	}
	if n.kind() != "object" {
		return "", validationError(path, "expected an object for type '%s', but found %s", typ, n.found())
	}
	var parts []string
	for _, f := range n.fields() {
		p := path + "." + f.name
		var e string
		var gerr *gqlError
		op := f.name
		switch {
		case compareOps[op] != "":
			e, gerr = c.scalarOp(expr, compareOps[op], f.val, col.scalar, col.pgType, p)
		case op == "_in" || op == "_nin":
			e, gerr = c.inList(expr, op == "_nin", f.val, col, p)
		case op == "_is_null":
			var v node
			if v, gerr = c.at(f.val, named("Boolean"), p); gerr == nil {
				switch {
				case v.kind() != "boolean":
					gerr = validationError(p, "expected a boolean for type 'Boolean', but found %s", v.found())
				case v.text() == "true":
					e = expr + " IS NULL"
				default:
					e = expr + " IS NOT NULL"
				}
			}
		case col.scalar == "String" && textOps[op] != "":
			e, gerr = c.scalarOp(expr, textOps[op], f.val, "String", "text", p)
		case col.scalar == "jsonb" && jsonbOps[op] != "":
			e, gerr = c.scalarOp(expr, jsonbOps[op], f.val, "jsonb", "jsonb", p)
		case col.scalar == "jsonb" && op == "_has_key":
			e, gerr = c.scalarOp(expr, "?", f.val, "String", "text", p)
		case col.scalar == "jsonb" && keyOps[op] != "":
			e, gerr = c.keyList(expr, keyOps[op], f.val, p)
		default:
			gerr = validationError(p, "field '%s' not found in type: '%s'", op, typ)
		}
		if gerr != nil {
			return "", gerr
		}
		parts = append(parts, e)
	}
	if len(parts) == 0 {
		return "true", nil
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

func (c *compiler) scalarOp(expr, op string, n node, scalar, pgType, path string) (string, *gqlError) {
	n, gerr := c.at(n, named(scalar), path)
	if gerr != nil {
		return "", gerr
	}
	p, gerr := c.param(n, scalar, pgType, path)
	if gerr != nil {
		return "", gerr
	}
	return expr + " " + op + " " + p, nil
}

func (c *compiler) inList(expr string, negate bool, n node, col *column, path string) (string, *gqlError) {
	n, gerr := c.at(n, scalarListType(col.scalar), path)
	if gerr != nil {
		return "", gerr
	}
	if n.kind() == "null" {
		return "", validationError(path, "unexpected null value for type '[%s!]'", col.scalar)
	}
	var ps []string
	for i, item := range n.items() {
		ip := fmt.Sprintf("%s[%d]", path, i)
		item, gerr := c.at(item, nonNull(named(col.scalar)), ip)
		if gerr != nil {
			return "", gerr
		}
		p, gerr := c.param(item, col.scalar, col.pgType, ip)
		if gerr != nil {
			return "", gerr
		}
		ps = append(ps, p)
	}
	switch {
	case len(ps) == 0 && negate:
		return "true", nil
	case len(ps) == 0:
		return "false", nil
	case negate:
		return expr + " NOT IN (" + strings.Join(ps, ", ") + ")", nil
	}
	return expr + " IN (" + strings.Join(ps, ", ") + ")", nil
}

func (c *compiler) keyList(expr, op string, n node, path string) (string, *gqlError) {
	n, gerr := c.at(n, scalarListType("String"), path)
	if gerr != nil {
		return "", gerr
	}
	if n.kind() == "null" {
		return "", validationError(path, "unexpected null value for type '[String!]'")
	}
	var ps []string
	for i, item := range n.items() {
		ip := fmt.Sprintf("%s[%d]", path, i)
		item, gerr := c.at(item, nonNull(named("String")), ip)
		if gerr != nil {
			return "", gerr
		}
		p, gerr := c.param(item, "String", "text", ip)
		if gerr != nil {
			return "", gerr
		}
		ps = append(ps, p)
	}
	return expr + " " + op + " ARRAY[" + strings.Join(ps, ", ") + "]::text[]", nil
}

// param adds n as a bind parameter (sent as text, cast to pgType in SQL) after checking it fits scalar.
func (c *compiler) param(n node, scalar, pgType, path string) (string, *gqlError) {
	k := n.kind()
	if k == "null" {
		return "", validationError(path, "unexpected null value for type '%s'", scalar)
	}
	mismatch := func(want string) *gqlError {
		return validationError(path, "expected %s for type '%s', but found %s", want, scalar, n.found())
	}
	var text string
	switch scalar {
	case "jsonb", "json":
		b, err := json.Marshal(c.toJS(n))
		if err != nil {
			return "", validationError(path, "invalid JSON value for type '%s': %v", scalar, err)
		}
		text = string(b)
	case "Boolean":
		if k != "boolean" {
			return "", mismatch("a boolean")
		}
		text = n.text()
	case "Int", "smallint":
		if k != "number" || strings.ContainsAny(n.text(), ".eE") {
			return "", mismatch("an integer")
		}
		text = n.text()
	case "bigint", "numeric", "float8", "Float":
		// Hasura accepts these as numbers or as strings (for values JSON numbers cannot carry exactly).
		if k != "number" && k != "string" {
			return "", mismatch("a number")
		}
		text = n.text()
	default: // String, uuid, timestamptz, date, …: PostgreSQL checks the text, as it does behind Hasura
		if k != "string" {
			return "", mismatch("a string")
		}
		text = n.text()
	}
	c.args = append(c.args, text)
	return fmt.Sprintf("($%d::text)::%s", len(c.args), pgType), nil
}

// orderBy compiles [<table>_order_by!] into ORDER BY terms.
func (c *compiler) orderBy(ti *tableInfo, perm *SelectPermission, alias string, n node, path string) ([]string, []string, *gqlError) {
	item := nonNull(orderByType(ti.meta.GraphQLName))
	n, gerr := c.at(n, listOf(item), path)
	if gerr != nil {
		return nil, nil, gerr
	}
	if n.kind() == "null" {
		return nil, nil, nil
	}
	var out, cols []string
	for i, obj := range n.items() {
		ip := path
		if n.kind() == "list" {
			ip = fmt.Sprintf("%s[%d]", path, i)
		}
		obj, gerr := c.at(obj, item, ip)
		if gerr != nil {
			return nil, nil, gerr
		}
		if obj.kind() != "object" {
			return nil, nil, validationError(ip, "expected an object for type '%s', but found %s", item.NamedType, obj.found())
		}
		for _, f := range obj.fields() {
			fp := ip + "." + f.name
			col := c.readable(ti, perm, f.name)
			if col == nil {
				if rel, _, _ := c.relationship(ti, f.name); rel != nil {
					return nil, nil, unsupported(fp, "ordering by relationships")
				}
				return nil, nil, validationError(fp, "field '%s' not found in type: '%s'", f.name, item.NamedType)
			}
			dir, gerr := c.at(f.val, named("order_by"), fp)
			if gerr != nil {
				return nil, nil, gerr
			}
			sql, ok := directions[dir.text()]
			if !ok || (!dir.isJS && dir.kind() != "enum") || (dir.isJS && dir.kind() != "string") {
				return nil, nil, validationError(fp, "expected one of the values ['asc', 'asc_nulls_first', 'asc_nulls_last', 'desc', 'desc_nulls_first', 'desc_nulls_last'] for type 'order_by', but found %s", dir.found())
			}
			out = append(out, alias+"."+ident(col.name)+" "+sql)
			cols = append(cols, col.name)
		}
	}
	return out, cols, nil
}

// directions are Hasura's order_by enum values; asc puts nulls last and desc first, as PostgreSQL does.
var directions = map[string]string{
	"asc": "ASC NULLS LAST", "asc_nulls_first": "ASC NULLS FIRST", "asc_nulls_last": "ASC NULLS LAST",
	"desc": "DESC NULLS FIRST", "desc_nulls_first": "DESC NULLS FIRST", "desc_nulls_last": "DESC NULLS LAST",
}

// intArg reads limit or offset: a non-negative Int, or null for none (-1).
func (c *compiler) intArg(n node, path string) (int, *gqlError) {
	n, gerr := c.at(n, named("Int"), path)
	if gerr != nil {
		return 0, gerr
	}
	if n.kind() == "null" {
		return -1, nil
	}
	v, err := strconv.Atoi(n.text())
	if n.kind() != "number" || err != nil {
		return 0, validationError(path, "expected a 32-bit integer for type 'Int', but found %s", n.found())
	}
	if v < 0 {
		return 0, validationError(path, "unexpected negative value")
	}
	return v, nil
}
