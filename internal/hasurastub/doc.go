// Package hasurastub is a test stand-in for Hasura GraphQL Engine v2, for tests of code that reads benchpipe's
// data over GraphQL. Hasura ships only as a Docker image and cannot run here, so this package fakes the one thing
// those tests need from it, and nothing more: answering queries the way Hasura answers them for one role.
//
// It serves POST /v1/graphql on an httptest server. Queries are parsed with a real GraphQL parser
// (github.com/vektah/gqlparser/v2) and translated, as Hasura does, into SQL run against a real PostgreSQL database
// (the test's database, migrated by schema.Migrate), read-only, with the response JSON built by PostgreSQL
// (row_to_json, json_agg), so values come back in Hasura's shapes: uuid and timestamptz as strings, bigint and
// float8 as numbers, jsonb as JSON.
//
// What the role may see comes from the repository's Hasura metadata (LoadMetadata; "!include" resolved): tracked
// tables, manual relationships, select permissions with column lists, row filters and limits. A field the role
// may not read fails with Hasura's error, e.g.
//
//	{"errors":[{"message":"field 'x' not found in type: 'runs'",
//	            "extensions":{"code":"validation-failed","path":"$.selectionSet.runs.selectionSet.x"}}]}
//
// and variables must be declared with the types Hasura generates (uuid, timestamptz, jsonb, bigint, float8,
// String, Int, Boolean, <table>_bool_exp, <table>_order_by), else "variable 'x' is declared as 'String!', but
// used where 'uuid' is expected".
//
// The supported subset: query operations with variables; root fields <table>(where, order_by, limit, offset) and
// <table>_by_pk(<primary key columns>); aliases and __typename; object and array relationships (arrays with where,
// order_by, limit, offset); boolean expressions with _and, _or, _not, relationships, and the comparison operators
// _eq _neq _gt _gte _lt _lte _in _nin _is_null, the text operators (_like, _ilike, _regex, …) and the jsonb
// operators (_contains, _contained_in, _has_key, _has_keys_any, _has_keys_all). Anything else (aggregates,
// distinct_on, fragments, directives, mutations, subscriptions) is answered with the error code
// "hasurastub-unsupported", so a test never mistakes a gap in the stub for Hasura's behaviour.
package hasurastub
