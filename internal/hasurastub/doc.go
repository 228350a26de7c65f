// Package hasurastub stands in for Hasura GraphQL Engine v2 in tests and in `make demo`, never in production:
// Hasura ships only as a Docker image and cannot run here. It is the one stand-in for Hasura in this repository:
// the Go tests, `producer compare`'s tests, the viewer's browser tests and the demo all talk to it.
//
// It serves POST /v1/graphql and, on the same path, websocket subscriptions. Queries are parsed with a real GraphQL
// parser (github.com/vektah/gqlparser/v2) and translated, as Hasura does, into one SQL statement run against a real
// PostgreSQL database, read-only, with the response JSON built by PostgreSQL (row_to_json, json_agg,
// json_build_object), so values come back in Hasura's shapes: uuid and timestamptz as strings (UTC, +00:00), bigint
// and float8 as numbers, jsonb as JSON. Give it the database URL of Hasura's own role (testenv.Deployed's HasuraURL),
// so that what the database grants that role is checked too.
//
// What the role may see comes from the repository's Hasura metadata (LoadMetadata; "!include" resolved): tracked
// tables, manual relationships, select permissions with column lists, row filters, row limits and
// allow_aggregations. A field the role may not read fails with Hasura's error, e.g.
//
//	{"errors":[{"message":"field 'x' not found in type: 'runs'",
//	            "extensions":{"code":"validation-failed","path":"$.selectionSet.runs.selectionSet.x"}}]}
//
// and variables must be declared with the types Hasura generates (uuid, timestamptz, jsonb, bigint, float8,
// String, Int, Boolean, <table>_bool_exp, <table>_order_by, <table>_select_column), else "variable 'x' is
// declared as 'String!', but used where 'uuid' is expected".
//
// Supported, as Hasura v2 generates it for a tracked table t:
//   - t(where, order_by, limit, offset, distinct_on); distinct_on must match the leading order_by columns, else
//     "\"distinct_on\" columns must match initial \"order_by\" columns" (Hasura.GraphQL.Schema.Select,
//     tableDistinctArg; https://hasura.io/docs/latest/queries/postgres/distinct-queries/);
//   - t_aggregate(same arguments) { aggregate { count(columns, distinct) avg sum stddev stddev_pop stddev_samp
//     var_pop var_samp variance min max } nodes } when the permission allows aggregations; avg, sum and the
//     variance family take numeric columns only (t_avg_fields …), min and max any comparable column
//     (https://hasura.io/docs/latest/queries/postgres/aggregation-queries/);
//   - t_by_pk(<primary key>) when the role may read every key column;
//   - the permission's row limit caps every list, each stream batch, and the rows an aggregate sees (its count and
//     nodes alike), as Hasura applies it to the selected rows before aggregating;
//   - subscriptions over graphql-ws (subprotocol graphql-transport-ws; close codes 4400, 4401, 4408, 4409, 4429):
//     one root field each ("subscriptions must select one top level field"); t_stream(batch_size, cursor:
//     {initial_value: {col: v}, ordering: ASC|DESC}, where) sends the rows after v (exclusive) in batches and
//     moves the cursor to the last row sent, each row once; any other root field is a live query, re-run every
//     refetch interval (1 s, Hasura's default) and sent again only when its answer changed
//     (https://hasura.io/docs/latest/subscriptions/postgres/streaming/index/, and the note "Streaming
//     subscription polling" in Hasura.GraphQL.Execute.Subscription.Poll.StreamingQuery); keep-alive pings every 5 s;
//   - aliases and __typename; object and array relationships (arrays with where, order_by, limit, offset,
//     distinct_on), and <rel>_aggregate on an array relationship when the remote table's permission allows
//     aggregations (the same arguments and fields as t_aggregate, over the parent row's related rows); boolean expressions with _and, _or, _not, relationships, the comparison operators _eq _neq _gt
//     _gte _lt _lte _in _nin _is_null, the text operators (_like, _ilike, _regex, …) and the jsonb operators
//     (_contains, _contained_in, _has_key, _has_keys_any, _has_keys_all).
//   - tracked SQL functions (functions.yaml; STABLE or IMMUTABLE, returning SETOF a tracked table), for the roles
//     of their permissions: <fn>(args: {name: value, …}, where, order_by, limit, offset, distinct_on) and
//     <fn>_aggregate, run as SELECT … FROM <schema>.<fn>(name => $n, …) with named arguments, so omitted ones take
//     their SQL defaults; the return table's permission decides the columns, rows and row limit; arguments take
//     Hasura's scalars (uuid[] is _uuid, a PostgreSQL array literal "{a,b}"); an unknown argument is "field 'x'
//     not found in type: '<fn>_args'" (https://hasura.io/docs/latest/schema/postgres/custom-functions/).
//
// Authentication. Without WithAuthHook every request runs as the fixed role (WithRole, default "anonymous"). With
// WithAuthHook(url) the stub authenticates like Hasura with HASURA_GRAPHQL_AUTH_HOOK in GET mode
// (https://hasura.io/docs/latest/auth/authentication/webhook/; Hasura.Server.Auth.WebHook): for every HTTP request,
// and once per websocket at connection_init with the headers of the init payload's "headers" object over those of
// the handshake, it sends GET url with the client's headers except Content-Length, Content-MD5, Content-Type,
// User-Agent, Host, Origin, Referer, Accept, Accept-Encoding, Accept-Language, Accept-Datetime, Cache-Control,
// Connection and DNT (Hasura.Server.Utils, commonClientHeadersIgnored). A 200 answer is a JSON object whose
// X-Hasura-* keys, in any case, are the session variables; X-Hasura-Role is the role whose permissions apply. Every
// failure is answered, like every error on /v1/graphql, with HTTP 200 (Hasura.Server.App, allMod200):
//
//	webhook 401                 {"errors":[{"message":"Authentication hook unauthorized this request",
//	                                        "extensions":{"code":"access-denied","path":"$"}}]}
//	webhook other status        "Invalid response from authorization hook" (code "unexpected")
//	200 without X-Hasura-Role   "x-hasura-role not found in session variables" (code "invalid-params")
//	webhook unreachable         "webhook authentication request failed" (code "unexpected")
//
// and on the websocket by closing it with 4403 Forbidden (graphql-ws; Hasura.GraphQL.Transport.WebSocket.Server,
// mkWSServerErrorCode). The webhook's cache headers (Cache-Control, Expires) are ignored: it is called every time.
//
// Actions. LoadMetadata reads actions.yaml and the SDL of actions.graphql (type Mutation and type Query fields and
// their custom object, input object, enum and scalar types). definition.type is read as Hasura reads it
// (Hasura.RQL.Types.Action, ActionDefinition's FromJSON): "mutation" (the default, with kind synchronous, the only
// kind served) or "query", whose kind is not read since a query action is always synchronous
// (https://hasura.io/docs/latest/actions/async-actions/); anything else is "expected mutation or query, but found
// x". Synchronous mutation actions and query actions are served as Hasura serves them
// (https://hasura.io/docs/latest/actions/action-handlers/; Hasura.GraphQL.Schema.Action, actionExecute, and
// Hasura.GraphQL.Execute.Action, callWebhook): the field exists in mutation_root (query_root for a query action)
// only for the roles of the action's permissions, so another role gets "field 'launchJobs' not found in type:
// 'mutation_root'" ("field 'compareRuns' not found in type: 'query_root'"), and a role with no mutation field at
// all gets "no mutations exist" (Hasura.GraphQL.Execute.Mutation), which is what anonymous gets in benchpipe's
// metadata (no insert, update or delete permissions, its actions being queries). A query may mix query actions with
// tables' and functions' fields: the fields from the database come from one SQL statement as ever, each action
// from its handler, and the data object has the root fields in the order asked; one failing field fails the whole
// request. Query actions are not fields of subscription_root. Output object types may have jsonb fields (custom
// scalars and nested objects are allowed in action output since Hasura v2.2,
// https://hasura.io/docs/latest/actions/types/): the value is passed on as the handler gave it. Arguments are checked against the SDL types
// (variables too); the handler URL's {{ENV}} parts and value_from_env headers are read from the environment
// (WithEnv over the process's), and an action naming an unset variable is left out of the schema as inconsistent
// (InconsistentObjects). A call is a POST of
//
//	{"action":{"name":"launchJobs"},"input":{…the arguments given; an omitted nullable one is absent…},
//	 "session_variables":{"x-hasura-role":"operator",…},"request_query":"…the request's query…"}
//
// with Content-Type: application/json, the action's headers, and with forward_client_headers the client's headers
// (minus the ignored ones above and X-Hasura-*; Host, User-Agent and Origin also as X-Forwarded-*), the action's
// own winning over a client's of the same name; its timeout is definition.timeout (default 30 s). A 2xx body is
// the result: checked against the output type (`field "group_id" expected in webhook response, but not found`,
// "expecting not null value for field …", code "unexpected") and projected on the selection set. A 4xx body
// {"message", "code"?, "extensions"?} becomes the error, with the handler's extensions as they are when given,
// else {"code": code or "unexpected", "path": "$"}; without a message "the key 'message' was not present"
// (parse-failed); any other status "internal error", an unreachable handler "http exception when calling
// webhook", a body that is not JSON "not a valid json response from webhook" (all "unexpected"). A mutation, or a
// query with actions, may also be sent over the websocket (one next, then complete).
//
// Checked against Hasura's documentation (above) and its own test fixtures and source
// (hasura/graphql-engine server/tests-py/queries/graphql_query, server/src-lib/Hasura/GraphQL/Schema/Select.hs).
// Anything else (fragments, directives, insert/update/delete mutations of a role that has such permissions,
// asynchronous actions, action transforms and relationships, ordering by relationships or aggregates,
// the older subscriptions-transport-ws protocol, subscriptions over HTTP, POST-mode auth webhooks, the admin
// secret) is answered with the error code "hasurastub-unsupported" or refused by LoadMetadata, so a test never
// mistakes a gap in the stand-in for Hasura's behaviour.
//
// Open gives an http.Handler to serve anywhere (the demo serves it beside the viewer); New and Start serve it on
// a test server.
package hasurastub
