package hasurastub

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
)

// streamCursor is the state of a streaming subscription's cursor: the bind parameter holding its value, which
// the poller replaces with the last value sent after each batch, as Hasura keeps the cursor per subscriber
// (https://hasura.io/docs/latest/subscriptions/postgres/streaming/index/; the note "Streaming subscription
// polling" in Hasura.GraphQL.Execute.Subscription.Poll.StreamingQuery).
type streamCursor struct {
	sql   string // returns the data JSON and the cursor's new value (NULL when the batch is empty)
	param int    // index in args of the cursor value
}

// streamField compiles <table>_stream(batch_size: Int!, cursor: [<table>_stream_cursor_input]!, where): the rows
// after the cursor's value (exclusive), in the cursor's ordering, batch_size at most (and at most the permission's
// limit).
func (c *compiler) streamField(ti *tableInfo, perm *SelectPermission, f *ast.Field, path string) (string, *gqlError) {
	alias := c.newAlias()
	name := ti.meta.GraphQLName
	ra := rowArgs{limit: -1, offset: -1}
	var cursor *ast.Value
	haveBatch := false
	for _, a := range f.Arguments {
		ap := path + ".args." + a.Name
		var gerr *gqlError
		switch a.Name {
		case "where":
			var e string
			e, gerr = c.boolExp(ti, perm, alias, node{lit: a.Value}, ap)
			ra.conds = append(ra.conds, e)
		case "batch_size":
			haveBatch = true
			var n node
			if n, gerr = c.at(node{lit: a.Value}, nonNull(named("Int")), ap); gerr == nil {
				if n.kind() == "null" {
					gerr = validationError(ap, "unexpected null value for type 'Int'")
				} else {
					ra.limit, gerr = c.intArg(n, ap)
				}
			}
		case "cursor":
			cursor = a.Value
		default:
			gerr = validationError(path, "'%s' has no argument named '%s'", f.Name, a.Name)
		}
		if gerr != nil {
			return "", gerr
		}
	}
	if !haveBatch {
		return "", validationError(path, "missing required field 'batch_size'")
	}
	if cursor == nil {
		return "", validationError(path, "missing required field 'cursor'")
	}
	cp := path + ".args.cursor"
	cn, gerr := c.at(node{lit: cursor}, nonNull(listOf(named(name+"_stream_cursor_input"))), cp)
	if gerr != nil {
		return "", gerr
	}
	items := cn.items()
	if cn.kind() == "null" || len(items) != 1 {
		return "", unsupported(cp, "streaming on other than exactly one cursor")
	}
	var col *column
	var value node
	dir, op, last := "ASC", ">", "DESC"
	for _, fld := range items[0].fields() {
		fp := cp + "." + fld.name
		switch fld.name {
		case "initial_value":
			iv, gerr := c.at(fld.val, nonNull(named(name+"_stream_cursor_value_input")), fp)
			if gerr != nil {
				return "", gerr
			}
			fs := iv.fields()
			if iv.kind() != "object" || len(fs) != 1 {
				return "", unsupported(fp, "streaming on other than exactly one cursor column")
			}
			if col = c.readable(ti, perm, fs[0].name); col == nil {
				return "", validationError(fp+"."+fs[0].name, "field '%s' not found in type: '%s_stream_cursor_value_input'", fs[0].name, name)
			}
			value = fs[0].val
		case "ordering":
			o, gerr := c.at(fld.val, named("cursor_ordering"), fp)
			if gerr != nil {
				return "", gerr
			}
			switch o.text() {
			case "ASC":
			case "DESC":
				dir, op, last = "DESC", "<", "ASC"
			default:
				return "", validationError(fp, "expected one of the values ['ASC', 'DESC'] for type 'cursor_ordering', but found %s", o.found())
			}
		default:
			return "", validationError(fp, "field '%s' not found in type: '%s_stream_cursor_input'", fld.name, name)
		}
	}
	if col == nil {
		return "", validationError(cp, "missing required field 'initial_value'")
	}
	value, gerr = c.at(value, named(col.scalar), cp+".initial_value."+col.name)
	if gerr != nil {
		return "", gerr
	}
	p, gerr := c.param(value, col.scalar, col.pgType, cp+".initial_value."+col.name)
	if gerr != nil {
		return "", gerr
	}
	colExpr := alias + "." + ident(col.name)
	ra.conds = append(ra.conds, colExpr+" "+op+" "+p)
	ra.order = []string{colExpr + " " + dir}
	from, gerr := c.rows(ti, perm, alias, ra, nil, path)
	if gerr != nil {
		return "", gerr
	}
	obj, gerr := c.object(ti, perm, alias, f, path)
	if gerr != nil {
		return "", gerr
	}
	key := responseKey(f)
	c.stream = &streamCursor{param: len(c.args) - 1, sql: fmt.Sprintf(
		"SELECT json_build_object(%s, coalesce(json_agg(%s ORDER BY %s %s), '[]'::json))::text, (array_agg(%s::text ORDER BY %s %s))[1] FROM %s",
		quoteLiteral(key), obj, colExpr, dir, colExpr, colExpr, last, from)}
	return "NULL", nil
}
