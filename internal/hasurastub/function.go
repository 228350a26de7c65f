package hasurastub

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vektah/gqlparser/v2/ast"
)

// funcInfo joins a tracked function's metadata to its signature in the database.
type funcInfo struct {
	meta    *Function
	sqlName string // "schema"."name"
	args    []funcArg
	returns *tableInfo // the tracked table it returns a set of
}

// funcArg is an input argument of a tracked function, with the GraphQL scalar Hasura gives its type (uuid[] is
// _uuid, given as a PostgreSQL array literal such as "{a,b}").
type funcArg struct {
	name, pgType, scalar string
	hasDefault           bool
}

// introspectFunctions reads every tracked function's input arguments and return type, and checks what Hasura
// checks when it tracks a function (https://hasura.io/docs/latest/schema/postgres/custom-functions/): it exists
// once, its arguments are named, it returns SETOF a tracked table, and it is STABLE or IMMUTABLE (a VOLATILE
// function would be a mutation, which the stub has none of).
func introspectFunctions(ctx context.Context, pool *pgxpool.Pool, md *Metadata, tables map[string]*tableInfo) (map[string]*funcInfo, error) {
	out := map[string]*funcInfo{}
	var problems []string
	for name, fn := range md.Functions {
		fi := &funcInfo{meta: fn, sqlName: pgx.Identifier{fn.Schema, fn.Name}.Sanitize()}
		var (
			n, defaults        int
			setof              bool
			volatility         string
			retSchema, retName string
			argNames, argTypes []string
			argTypnames        []string
		)
		err := pool.QueryRow(ctx, `
			SELECT count(*) OVER (), p.pronargdefaults, p.proretset, p.provolatile::text, rn.nspname, rt.typname,
			       coalesce(p.proargnames[1:p.pronargs], '{}'),
			       ARRAY(SELECT format_type(a.t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) ORDER BY a.i),
			       ARRAY(SELECT ty.typname::text FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i)
			             JOIN pg_type ty ON ty.oid = a.t ORDER BY a.i)
			FROM pg_proc p
			JOIN pg_namespace n ON n.oid = p.pronamespace
			JOIN pg_type rt ON rt.oid = p.prorettype
			JOIN pg_namespace rn ON rn.oid = rt.typnamespace
			WHERE n.nspname = $1 AND p.proname = $2`, fn.Schema, fn.Name).Scan(
			&n, &defaults, &setof, &volatility, &retSchema, &retName, &argNames, &argTypes, &argTypnames)
		switch {
		case err == pgx.ErrNoRows:
			problems = append(problems, fmt.Sprintf("function %s is tracked but does not exist", fi.sqlName))
			continue
		case err != nil:
			return nil, fmt.Errorf("introspect function %s: %w", fi.sqlName, err)
		case n != 1:
			problems = append(problems, fmt.Sprintf("function %s: %d overloads, Hasura tracks one", fi.sqlName, n))
			continue
		case volatility == "v":
			problems = append(problems, fmt.Sprintf("function %s is VOLATILE: the stub serves queries only", fi.sqlName))
			continue
		}
		if fi.returns = tables[graphQLName(retSchema, retName)]; !setof || fi.returns == nil {
			problems = append(problems, fmt.Sprintf("function %s must return SETOF a tracked table, returns %s.%s", fi.sqlName, retSchema, retName))
			continue
		}
		if len(argNames) != len(argTypes) {
			problems = append(problems, fmt.Sprintf("function %s: every input argument must be named", fi.sqlName))
			continue
		}
		for i := range argNames {
			fi.args = append(fi.args, funcArg{name: argNames[i], pgType: argTypes[i], scalar: scalarOf(argTypnames[i]),
				hasDefault: i >= len(argNames)-defaults})
		}
		out[name] = fi
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("inconsistent metadata:\n  %s", strings.Join(problems, "\n  "))
	}
	return out, nil
}

// function compiles f when it names a tracked function the role may call (ok false otherwise): <fn> and
// <fn>_aggregate, as Hasura generates them, are the return table's list and aggregate fields over the rows of
// SELECT … FROM fn(arg => value, …), with the return table's permission (its columns, row filter and limit).
// Arguments are passed by name, so omitted ones take their SQL defaults.
func (c *compiler) function(f *ast.Field, path string) (expr string, ok bool, gerr *gqlError) {
	aggregate := false
	fi := c.s.funcs[f.Name]
	if fi == nil {
		if base, cut := strings.CutSuffix(f.Name, "_aggregate"); cut {
			aggregate, fi = true, c.s.funcs[base]
		}
	}
	if fi == nil || !slices.Contains(fi.meta.Roles, c.role) {
		return "", false, nil
	}
	perm := fi.returns.meta.Select[c.role]
	if perm == nil || (aggregate && !perm.AllowAggregations) {
		return "", false, nil
	}
	rest := *f
	rest.Arguments = nil
	var argsValue *ast.Value
	for _, a := range f.Arguments {
		if a.Name == "args" {
			argsValue = a.Value
			continue
		}
		rest.Arguments = append(rest.Arguments, a)
	}
	call, gerr := c.functionCall(fi, argsValue, path)
	if gerr != nil {
		return "", true, gerr
	}
	ti := *fi.returns
	ti.sqlName = call
	if aggregate {
		expr, gerr = c.aggregate(&ti, perm, &rest, path, nil)
	} else {
		expr, gerr = c.list(&ti, perm, &rest, path, nil)
	}
	return expr, true, gerr
}

// functionCall compiles the args argument (type <fn>_args) into fn(name => $n, …).
func (c *compiler) functionCall(fi *funcInfo, v *ast.Value, path string) (string, *gqlError) {
	typ := fi.meta.GraphQLName + "_args"
	required := slices.ContainsFunc(fi.args, func(a funcArg) bool { return !a.hasDefault })
	ap := path + ".args.args"
	var n node
	if v != nil {
		var gerr *gqlError
		if n, gerr = c.at(node{lit: v}, named(typ), ap); gerr != nil {
			return "", gerr
		}
	}
	if v == nil || n.kind() == "null" {
		if required {
			return "", validationError(path+".args", "missing required field 'args'")
		}
		return fi.sqlName + "()", nil
	}
	if n.kind() != "object" {
		return "", validationError(ap, "expected an object for type '%s', but found %s", typ, n.found())
	}
	given := map[string]node{}
	for _, fl := range n.fields() {
		i := slices.IndexFunc(fi.args, func(a funcArg) bool { return a.name == fl.name })
		if i < 0 {
			return "", validationError(ap+"."+fl.name, "field '%s' not found in type: '%s'", fl.name, typ)
		}
		given[fl.name] = fl.val
	}
	var parts []string
	for _, a := range fi.args {
		val, ok := given[a.name]
		if !ok {
			if !a.hasDefault {
				return "", validationError(ap, "missing required field '%s'", a.name)
			}
			continue
		}
		p := ap + "." + a.name
		val, gerr := c.at(val, named(a.scalar), p)
		if gerr != nil {
			return "", gerr
		}
		var e string
		if val.kind() == "null" {
			e = "NULL::" + a.pgType
		} else if e, gerr = c.param(val, a.scalar, a.pgType, p); gerr != nil {
			return "", gerr
		}
		parts = append(parts, ident(a.name)+" => "+e)
	}
	return fi.sqlName + "(" + strings.Join(parts, ", ") + ")", nil
}
