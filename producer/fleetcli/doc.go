// Package fleetcli is `producer launch` and `producer jobs`: the operator's commands for the fleet of agents
// (issue 14), run on an operator's machine. Both talk to the GraphQL endpoint of the configuration's graphql
// section (Hasura, in tests internal/hasurastub) with "Authorization: Bearer $BENCHPIPE_OPERATOR_TOKEN": Hasura's
// auth webhook (`sink api` GET /auth) turns that token into the operator role, which alone may call the actions
// launchJobs and stopJobs (`sink api` POST /actions). The token is read from the environment only and never
// printed.
//
// `producer launch` parses the job's kind flags with the kind's own parser (mqttload.ParseSpec,
// pgbench.ParseSpec) and checks the spec with the kind's DecodeSpec, the check the API makes, so a mistake is
// caught on the operator's machine with the same message `producer mqtt` or `producer pgbench` would give.
// `producer jobs` reads the job_status view and stops jobs.
package fleetcli
