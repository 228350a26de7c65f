package hasurastub

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Aggregate functions Hasura generates per table: count over rows, these over numeric columns, min and max
// over numeric, text and time columns (Hasura.GraphQL.Schema.Select, defaultTableAggregationSelection).
var numericAggregates = map[string]string{
	"avg": "avg", "stddev": "stddev", "stddev_pop": "stddev_pop", "stddev_samp": "stddev_samp",
	"sum": "sum", "var_pop": "var_pop", "var_samp": "var_samp", "variance": "variance",
}

func isNumeric(scalar string) bool {
	switch scalar {
	case "Int", "smallint", "bigint", "Float", "float8", "numeric":
		return true
	}
	return false
}

func isComparable(scalar string) bool {
	switch scalar {
	case "json", "jsonb", "Boolean":
		return false
	}
	return true
}

// aggregate compiles <table>_aggregate(where, order_by, limit, offset, distinct_on) { aggregate { … } nodes { … } }
// into one json_build_object over the rows the arguments and the permission select: a root field (joinOn nil) or
// an array relationship's <rel>_aggregate (joinOn gives its join conditions).
func (c *compiler) aggregate(ti *tableInfo, perm *SelectPermission, f *ast.Field, path string, joinOn func(alias string) []string) (string, *gqlError) {
	alias := c.newAlias()
	ra, gerr := c.listArgs(ti, perm, alias, f, path)
	if gerr != nil {
		return "", gerr
	}
	from, gerr := c.rows(ti, perm, alias, ra, joinOn, path)
	if gerr != nil {
		return "", gerr
	}
	typ := ti.meta.GraphQLName + "_aggregate"
	var parts []string
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
		var expr string
		switch sf.Name {
		case "__typename":
			expr = "'" + typ + "'::text"
		case "nodes":
			obj, gerr := c.object(ti, perm, alias, sf, p)
			if gerr != nil {
				return "", gerr
			}
			expr = "coalesce(json_agg(" + obj + aggOrder(ra.order) + "), '[]'::json)"
		case "aggregate":
			if expr, gerr = c.aggregateFields(ti, perm, alias, sf, p); gerr != nil {
				return "", gerr
			}
		default:
			return "", validationError(p, "field '%s' not found in type: '%s'", sf.Name, typ)
		}
		parts = append(parts, quoteLiteral(key)+", "+expr)
	}
	if len(parts) == 0 {
		return "", validationError(path, "missing selection set for '%s'", typ)
	}
	return "(SELECT json_build_object(" + strings.Join(parts, ", ") + ") FROM " + from + ")", nil
}

// aggregateFields compiles the selection of <table>_aggregate_fields.
func (c *compiler) aggregateFields(ti *tableInfo, perm *SelectPermission, alias string, f *ast.Field, path string) (string, *gqlError) {
	typ := ti.meta.GraphQLName + "_aggregate_fields"
	if len(f.SelectionSet) == 0 {
		return "", validationError(path, "missing selection set for '%s'", typ)
	}
	var parts []string
	for _, sel := range f.SelectionSet {
		sf, ok := sel.(*ast.Field)
		if !ok {
			return "", unsupported(path+".selectionSet", "fragments")
		}
		key := responseKey(sf)
		p := path + ".selectionSet." + key
		var expr string
		switch fn := sf.Name; {
		case fn == "__typename":
			expr = "'" + typ + "'::text"
		case fn == "count":
			var cols []string
			distinct := false
			for _, a := range sf.Arguments {
				ap := p + ".args." + a.Name
				switch a.Name {
				case "columns":
					names, gerr := c.selectColumns(ti, perm, node{lit: a.Value}, ap)
					if gerr != nil {
						return "", gerr
					}
					for _, n := range names {
						cols = append(cols, alias+"."+ident(n))
					}
				case "distinct":
					v, gerr := c.at(node{lit: a.Value}, named("Boolean"), ap)
					if gerr != nil {
						return "", gerr
					}
					if v.kind() != "boolean" && v.kind() != "null" {
						return "", validationError(ap, "expected a boolean for type 'Boolean', but found %s", v.found())
					}
					distinct = v.text() == "true"
				default:
					return "", validationError(p, "'count' has no argument named '%s'", a.Name)
				}
			}
			switch {
			case len(cols) == 0:
				expr = "count(*)"
			case distinct:
				expr = "count(DISTINCT (" + strings.Join(cols, ", ") + "))"
			default:
				expr = "count((" + strings.Join(cols, ", ") + "))"
			}
		case numericAggregates[fn] != "" || fn == "min" || fn == "max":
			ftyp := ti.meta.GraphQLName + "_" + fn + "_fields"
			if len(sf.SelectionSet) == 0 {
				return "", validationError(p, "missing selection set for '%s'", ftyp)
			}
			var cols []string
			for _, csel := range sf.SelectionSet {
				cf, ok := csel.(*ast.Field)
				if !ok {
					return "", unsupported(p+".selectionSet", "fragments")
				}
				ck := responseKey(cf)
				cp := p + ".selectionSet." + ck
				if cf.Name == "__typename" {
					cols = append(cols, quoteLiteral(ck)+", '"+ftyp+"'::text")
					continue
				}
				col := c.readable(ti, perm, cf.Name)
				if col == nil || (numericAggregates[fn] != "" && !isNumeric(col.scalar)) || !isComparable(col.scalar) {
					return "", validationError(cp, "field '%s' not found in type: '%s'", cf.Name, ftyp)
				}
				cols = append(cols, quoteLiteral(ck)+", "+fn+"("+alias+"."+ident(col.name)+")")
			}
			expr = "json_build_object(" + strings.Join(cols, ", ") + ")"
		default:
			return "", validationError(p, "field '%s' not found in type: '%s'", sf.Name, typ)
		}
		parts = append(parts, quoteLiteral(key)+", "+expr)
	}
	return "json_build_object(" + strings.Join(parts, ", ") + ")", nil
}

// quoteLiteral quotes s as an SQL string literal (response keys are GraphQL names, but quote them anyway).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
