// Package api is `sink api`: the operator API of the fleet (issue 14). Hasura calls it twice per operator request:
//
//   - GET /auth, Hasura's authentication webhook (HASURA_GRAPHQL_AUTH_HOOK, GET mode, the client's headers
//     forwarded): "Authorization: Bearer <BENCHPIPE_OPERATOR_TOKEN>" makes the request role operator, no
//     Authorization header makes it anonymous, anything else is refused (401), so a mistyped token fails loudly
//     instead of silently reading as anonymous.
//   - POST /actions, the handler of the launchJobs and stopJobs mutations and of the compareRuns and runHistory
//     queries (deploy/hasura/metadata/actions.yaml). Hasura sends X-Benchpipe-Action-Secret
//     (BENCHPIPE_ACTION_SECRET) with every call; a request without it, or whose session role may not call the
//     action (operator for the mutations, anonymous or operator for the queries), is refused before anything else
//     is read.
//
// launchJobs resolves the agents from the database (agent_status, kept by the sink from the agents' heartbeats),
// validates the job's spec with the kind's own decoder, and produces one schema.FleetMessage of type job per agent,
// all with one group id, to fleet.jobs_topic, acknowledged before it answers. stopJobs produces job_stop messages
// for a job, or for the unfinished jobs of a group (job_status). Nothing is produced for a refused request. The API
// writes no table: the sink stores the messages it produces like any others.
//
// compareRuns and runHistory (issue 17) bring `producer compare` and `producer history` to the viewer, which reads
// only GraphQL: their report is exactly the --json document the CLI prints for the same arguments, made by the same
// code (compare.Client's Report and History), which reads the runs back over GraphQL from graphql.url as the CLI
// does: Hasura asks /auth, which makes that request anonymous. Without graphql.url they answer an error; each is
// bounded by the report timeout (WithReportTimeout).
//
// Both secrets come from the environment only (EnvOperatorToken, EnvActionSecret) and are compared in constant
// time on their SHA-256 digests; neither is logged.
package api
