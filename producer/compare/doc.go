// Package compare is `producer compare`: it compares two benchmark runs and gates regressions from the command
// line, and AfterRun lets a load command do the same right after its run. It is also `producer history`
// (RunHistory): a run's comparable runs with their change points and noise, which `compare --baseline history`
// gates against; both share the notion of a comparable run and the queries.
//
// It reads what the rest of benchpipe wrote, from the far end of the pipeline: runs and samples rows, as
// Hasura's GraphQL API serves them to the anonymous role (graphql.url in the configuration). So it works from
// any machine that can reach the viewer's endpoint, with no database credentials, and sees exactly what the
// viewer shows. The queries (queries.go) use only columns the Hasura metadata in deploy/hasura grants to the
// anonymous role; contract_test.go holds them to that.
//
// The pieces are separate so that each can be tested alone: queries.go and client.go fetch (and turn Hasura's
// errors into ErrUnreachable, ErrRejected, …), figures.go compares numbers against thresholds, statistics.go
// judges the figures that have per-second values from the runs' steady-state samples with internal/stat (the
// gate of those figures: significantly worse by at least the threshold), history.go builds a run's history
// (per-run values, change points, the current segment), cluster.go warns about runs whose database cluster
// changed topology and lists the server settings that differ (pgbench --observe), report.go and historycli.go
// print, cli.go and historycli.go parse the command line.
package compare
