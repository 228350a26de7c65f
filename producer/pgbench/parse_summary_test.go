package pgbench

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func secs(n int) *time.Duration { return ptr(time.Duration(n) * time.Second) }

func ratio(n int64, pct float64) *Ratio { return &Ratio{N: n, Pct: pct} }

const tpcb = "<builtin: TPC-B (sort of)>"

// pg15 is the banner of every captured file.
const pg15 = "15.18 (Debian 15.18-0+deb12u1)"

func TestParseSummaryFiles(t *testing.T) {
	tests := []struct {
		file string
		want Summary
		// statements: how many per-statement lines (summed over scripts), and one of them.
		statements int
		statement  *StatementLatency
	}{
		{
			file: "pg15/shared/A.out", // -c 2 -T 2: no stddev
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 2, Threads: 1, MaxTries: ptr[int64](1), Duration: secs(2), Processed: 3148,
				Outcome:                     Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(1.268)},
				InitialConnectionTimeMs:     ptr(8.19),
				TPSWithoutInitialConnection: ptr(1577.694962)},
		},
		{
			file: "pg15/shared/D.out", // -R -L -P
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 4, Threads: 2, MaxTries: ptr[int64](1), Duration: secs(3), Processed: 5579,
				Outcome: Outcome{Failed: ratio(0, 0), Skipped: ratio(486, 8.013),
					LatencyAvgMs: ptr(1.91), LatencyStddevMs: ptr(1.088)},
				LatencyLimit:                &LatencyLimit{LimitMs: 2, Late: 2110, Of: 5579, Pct: 37.82},
				LagAvgMs:                    ptr(0.501),
				LagMaxMs:                    ptr(2.0),
				InitialConnectionTimeMs:     ptr(6.822),
				TPSWithoutInitialConnection: ptr(1861.087297)},
		},
		{
			file: "pg15/shared/E.out",
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 4, Threads: 1, MaxTries: ptr[int64](1), Duration: secs(2), Processed: 2820,
				Outcome: Outcome{Failed: ratio(0, 0), Skipped: ratio(3129, 52.597),
					LatencyAvgMs: ptr(3.317), LatencyStddevMs: ptr(7.107)},
				LatencyLimit:                &LatencyLimit{LimitMs: 1, Late: 2805, Of: 2820, Pct: 99.468},
				LagAvgMs:                    ptr(0.583),
				LagMaxMs:                    ptr(1.96),
				InitialConnectionTimeMs:     ptr(8.574),
				TPSWithoutInitialConnection: ptr(1412.658624)},
		},
		{
			file: "pg15/shared/F.out", // serializable, --max-tries 10 --failures-detailed -r
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 8, Threads: 2, MaxTries: ptr[int64](10), Duration: secs(3), Processed: 1871,
				Outcome: Outcome{Failed: ratio(799, 29.925), SerializationFailures: ratio(799, 29.925),
					DeadlockFailures: ratio(0, 0), Retried: ratio(1582, 59.251), Retries: ptr[int64](9922),
					LatencyAvgMs: ptr(4.221), LatencyStddevMs: ptr(4.809)},
				InitialConnectionTimeMs:     ptr(17.666),
				TPSWithoutInitialConnection: ptr(625.52301)},
			statements: 11,
			statement: &StatementLatency{LatencyMs: 0.25, Failures: ptr[int64](615), Retries: ptr[int64](6972),
				Command: "UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;"},
		},
		{
			file: "pg15/shared/run.stdout",
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 4, Threads: 2, MaxTries: ptr[int64](1), Duration: secs(5), Processed: 11254,
				Outcome:                     Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(1.771), LatencyStddevMs: ptr(0.76)},
				InitialConnectionTimeMs:     ptr(11.664),
				TPSWithoutInitialConnection: ptr(2253.151389)},
		},
		{
			file: "pg15/txlog-plain/stdout", // -t mode
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 2, Threads: 2, MaxTries: ptr[int64](1), TransactionsPerClient: ptr[int64](15),
				Processed: 30, ProcessedOf: ptr[int64](30),
				Outcome:                     Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(6.773)},
				InitialConnectionTimeMs:     ptr(57.275),
				TPSWithoutInitialConnection: ptr(295.301749)},
		},
		{
			file: "pg15/txlog-rate/stdout", // -R -L: every completed transaction was late
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 4, Threads: 2, MaxTries: ptr[int64](1), Duration: secs(2), Processed: 569,
				Outcome: Outcome{Failed: ratio(0, 0), Skipped: ratio(173, 23.315),
					LatencyAvgMs: ptr(6.574), LatencyStddevMs: ptr(5.414)},
				LatencyLimit:                &LatencyLimit{LimitMs: 1, Late: 569, Of: 569, Pct: 100},
				LagAvgMs:                    ptr(0.28),
				LagMaxMs:                    ptr(10.462),
				InitialConnectionTimeMs:     ptr(90.782),
				TPSWithoutInitialConnection: ptr(297.431115)},
		},
		{
			file: "pg15/txlog-serial/stdout",
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple",
				Clients: 8, Threads: 2, MaxTries: ptr[int64](3), TransactionsPerClient: ptr[int64](25),
				Processed: 72, ProcessedOf: ptr[int64](200),
				Outcome: Outcome{Failed: ratio(128, 64), SerializationFailures: ratio(128, 64),
					DeadlockFailures: ratio(0, 0), Retried: ratio(169, 84.5), Retries: ptr[int64](314),
					LatencyAvgMs: ptr(16.19), LatencyAvgIncludesFailures: true},
				InitialConnectionTimeMs:     ptr(136.754),
				TPSWithoutInitialConnection: ptr(177.887145)},
		},
		{
			file: "pg15/txlog-deadlock/stdout",
			want: Summary{Version: pg15, TransactionType: "../deadlock.sql", ScalingFactor: 1, QueryMode: "simple",
				Clients: 4, Threads: 2, MaxTries: ptr[int64](2), TransactionsPerClient: ptr[int64](15),
				Processed: 41, ProcessedOf: ptr[int64](60),
				Outcome: Outcome{Failed: ratio(19, 31.667), SerializationFailures: ratio(0, 0),
					DeadlockFailures: ratio(19, 31.667), Retried: ratio(39, 65), Retries: ptr[int64](39),
					LatencyAvgMs: ptr(301.289), LatencyStddevMs: ptr(178.745)},
				LagAvgMs:                    ptr(254.401),
				LagMaxMs:                    ptr(578.711),
				InitialConnectionTimeMs:     ptr(70.463),
				TPSWithoutInitialConnection: ptr(50.299034)},
		},
		{
			file: "pg15/connect-r/stdout", // -C -r -P -M prepared
			want: Summary{Version: pg15, TransactionType: tpcb, ScalingFactor: 1, QueryMode: "prepared",
				Clients: 2, Threads: 1, MaxTries: ptr[int64](1), Duration: secs(2), Processed: 41,
				Outcome:                  Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(59.401), LatencyStddevMs: ptr(25.407)},
				AverageConnectionTimeMs:  ptr(37.512),
				TPSIncludingReconnection: ptr(20.274006)},
			statements: 11,
			statement:  &StatementLatency{LatencyMs: 0.008, Failures: ptr[int64](0), Command: `\set aid random(1, 100000 * :scale)`},
		},
		{
			file: "pg15/multi-script/stdout",
			want: Summary{Version: pg15, TransactionType: "multiple scripts", ScalingFactor: 1, QueryMode: "simple",
				Clients: 2, Threads: 1, MaxTries: ptr[int64](1), Duration: secs(2), Processed: 1529,
				Outcome:                     Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(2.553)},
				InitialConnectionTimeMs:     ptr(52.207),
				TPSWithoutInitialConnection: ptr(783.427611),
				Scripts: []ScriptSummary{
					{Number: 1, Name: tpcb, Weight: 2, WeightPct: 66.7, Transactions: 978, TransactionsPct: 64,
						TPS:     ptr(501.106739),
						Outcome: Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(3.794), LatencyStddevMs: ptr(2.973)}},
					{Number: 2, Name: "<builtin: select only>", Weight: 1, WeightPct: 33.3, Transactions: 551,
						TransactionsPct: 36, TPS: ptr(282.320872),
						Outcome: Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(0.321), LatencyStddevMs: ptr(0.585)}},
				}},
			statements: 13,
			statement: &StatementLatency{LatencyMs: 0.32, Failures: ptr[int64](0),
				Command: "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;"},
		},
		{
			file: "pg15/partitions/stdout",
			want: Summary{Version: pg15, TransactionType: "<builtin: select only>", ScalingFactor: 1,
				PartitionMethod: "range", Partitions: 2, QueryMode: "simple",
				Clients: 2, Threads: 1, MaxTries: ptr[int64](1), Duration: secs(1), Processed: 14673,
				Outcome:                     Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(0.131)},
				InitialConnectionTimeMs:     ptr(46.795),
				TPSWithoutInitialConnection: ptr(15288.53157)},
		},
		{
			file: "pg14/T-P.stdout",
			want: Summary{Version: "14.12 (Ubuntu 14.12-0ubuntu0.22.04.1)", TransactionType: tpcb, ScalingFactor: 10,
				QueryMode: "simple", Clients: 10, Threads: 2, Duration: secs(5), Processed: 9874,
				Outcome:                     Outcome{LatencyAvgMs: ptr(5.063), LatencyStddevMs: ptr(2.411)},
				InitialConnectionTimeMs:     ptr(21.004),
				TPSWithoutInitialConnection: ptr(1975.01422)},
			statements: 11,
			statement: &StatementLatency{LatencyMs: 2.145,
				Command: "UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;"},
		},
		{
			file: "pg14/t.stdout",
			want: Summary{Version: "14.12 (Ubuntu 14.12-0ubuntu0.22.04.1)", TransactionType: tpcb, ScalingFactor: 1,
				QueryMode: "simple", Clients: 4, Threads: 1, TransactionsPerClient: ptr[int64](250),
				Processed: 1000, ProcessedOf: ptr[int64](1000),
				Outcome:                     Outcome{LatencyAvgMs: ptr(2.012)},
				InitialConnectionTimeMs:     ptr(9.377),
				TPSWithoutInitialConnection: ptr(1988.07157)},
		},
		{
			file: "pg14/rate.stdout",
			want: Summary{Version: "14.12 (Ubuntu 14.12-0ubuntu0.22.04.1)", TransactionType: tpcb, ScalingFactor: 1,
				QueryMode: "simple", Clients: 4, Threads: 2, Duration: secs(3), Processed: 5579,
				Outcome:                     Outcome{Skipped: ratio(486, 8.013), LatencyAvgMs: ptr(1.91), LatencyStddevMs: ptr(1.088)},
				LatencyLimit:                &LatencyLimit{LimitMs: 2, Late: 2110, Of: 5579, Pct: 37.82},
				LagAvgMs:                    ptr(0.501),
				LagMaxMs:                    ptr(2.0),
				InitialConnectionTimeMs:     ptr(6.822),
				TPSWithoutInitialConnection: ptr(1861.087297)},
		},
		{
			file: "pg14/connect.stdout",
			want: Summary{Version: "14.12 (Homebrew)", ServerVersion: "16.3 (Debian 16.3-1.pgdg120+1)",
				TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple", Clients: 2, Threads: 1,
				Duration: secs(2), Processed: 41,
				Outcome:                  Outcome{LatencyAvgMs: ptr(97.561)},
				AverageConnectionTimeMs:  ptr(37.512),
				TPSIncludingReconnection: ptr(20.274006)},
		},
		{
			file: "pg17/retries.stdout",
			want: Summary{Version: "17.6 (Debian 17.6-1.pgdg120+1)", ServerVersion: "16.10 (Debian 16.10-1.pgdg120+1)",
				TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple", Clients: 8, Threads: 2,
				MaxTries: ptr[int64](10), Duration: secs(3), Processed: 2112,
				Outcome: Outcome{Failed: ratio(31, 1.397), SerializationFailures: ratio(29, 1.307),
					DeadlockFailures: ratio(2, 0.09), Retried: ratio(804, 36.233), Retries: ptr[int64](1733),
					Skipped: ratio(76, 3.425), LatencyAvgMs: ptr(9.812), LatencyStddevMs: ptr(8.004)},
				LatencyLimit:                &LatencyLimit{LimitMs: 50, Late: 12, Of: 2112, Pct: 0.568},
				LagAvgMs:                    ptr(1.217),
				LagMaxMs:                    ptr(31.988),
				InitialConnectionTimeMs:     ptr(15.101),
				TPSWithoutInitialConnection: ptr(704.119021)},
		},
		{
			file: "pg18/multi.stdout",
			want: Summary{Version: "18.1 (Debian 18.1-1.pgdg13+2)", TransactionType: "multiple scripts",
				ScalingFactor: 1, QueryMode: "simple", Clients: 4, Threads: 1, MaxTries: ptr[int64](3),
				Duration: secs(10), Processed: 29995,
				Outcome: Outcome{Failed: ratio(0, 0), Retried: ratio(3, 0.01), Retries: ptr[int64](3),
					LatencyAvgMs: ptr(1.332), LatencyStddevMs: ptr(1.006)},
				InitialConnectionTimeMs:     ptr(10.555),
				TPSWithoutInitialConnection: ptr(2999.56229),
				Scripts: []ScriptSummary{
					{Number: 1, Name: tpcb, Weight: 2, WeightPct: 66.7, Transactions: 19990, TransactionsPct: 66.6,
						Processed: ptr[int64](19990), TPS: ptr(1999.008022),
						Outcome: Outcome{Failed: ratio(0, 0), Retried: ratio(3, 0.015), Retries: ptr[int64](3),
							LatencyAvgMs: ptr(1.851), LatencyStddevMs: ptr(0.901)}},
					{Number: 2, Name: "<builtin: select only>", Weight: 1, WeightPct: 33.3, Transactions: 10005,
						TransactionsPct: 33.4, Processed: ptr[int64](10005), TPS: ptr(1000.554268),
						Outcome: Outcome{Failed: ratio(0, 0), Retried: ratio(0, 0), Retries: ptr[int64](0),
							LatencyAvgMs: ptr(0.295), LatencyStddevMs: ptr(0.13)}},
				}},
			statements: 13,
			statement: &StatementLatency{LatencyMs: 0.288, Failures: ptr[int64](0), Retries: ptr[int64](2),
				Command: "UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;"},
		},
		{
			file: "pg18/t.stdout",
			want: Summary{Version: "18.1 (Debian 18.1-1.pgdg13+2)", TransactionType: tpcb, ScalingFactor: 1,
				QueryMode: "simple", Clients: 4, Threads: 1, MaxTries: ptr[int64](1),
				TransactionsPerClient: ptr[int64](100), Processed: 400, ProcessedOf: ptr[int64](400),
				Outcome:                  Outcome{Failed: ratio(0, 0), LatencyAvgMs: ptr(21.344)},
				AverageConnectionTimeMs:  ptr(5.007),
				TPSIncludingReconnection: ptr(187.406101)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := parseSummaryFile(t, tt.file)

			// The per-statement lines are many; check their number and one of them, then
			// compare the rest of the summary exactly.
			stmts := got.Statements
			got.Statements = nil
			for i := range got.Scripts {
				stmts = append(stmts, got.Scripts[i].Statements...)
				got.Scripts[i].Statements = nil
			}
			if len(stmts) != tt.statements {
				t.Errorf("%d statement lines, want %d", len(stmts), tt.statements)
			}
			if tt.statement != nil && !containsStatement(stmts, *tt.statement) {
				t.Errorf("statement %+v missing from %+v", *tt.statement, stmts)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSummary(%s)\n got %s\nwant %s", tt.file, dump(got), dump(tt.want))
			}
		})
	}
}

func containsStatement(stmts []StatementLatency, want StatementLatency) bool {
	for _, s := range stmts {
		if reflect.DeepEqual(s, want) {
			return true
		}
	}
	return false
}

// A run in which no transaction completed ends its summary after the failed count, whose
// percentage is 0/0: "0 (NaN%)".
func TestParseSummaryAborted(t *testing.T) {
	for _, file := range []string{"pg15/shared/J.out", "pg17/aborted.stdout"} {
		t.Run(file, func(t *testing.T) {
			got := parseSummaryFile(t, file)
			if got.Failed == nil || got.Failed.N != 0 || !math.IsNaN(got.Failed.Pct) {
				t.Fatalf("Failed = %+v, want 0 (NaN%%)", got.Failed)
			}
			if got.Processed != 0 || got.Duration == nil || *got.Duration != 2*time.Second || got.TransactionType != "bad.sql" {
				t.Errorf("summary = %s", dump(got))
			}
			if tps, ok := got.TPS(); ok {
				t.Errorf("TPS() = %v, true; want no tps", tps)
			}
		})
	}
}

func TestParseSummaryOldVersions(t *testing.T) {
	// pgbench ≤ 13 printed two tps lines, and before 11 "latency average: X ms".
	const pg13 = `transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 10
number of threads: 1
duration: 10 s
number of transactions actually processed: 16
number of transactions skipped: 0 (0.000 %)
number of transactions above the 1.0 ms latency limit: 16 (100.000 %)
latency average: 5.518 ms
latency stddev: 1.834 ms
rate limit schedule lag: avg 0.694 (max 1.823) ms
tps = 1.599917 (including connections establishing)
tps = 1.600319 (excluding connections establishing)
`
	got, err := ParseSummary(strings.NewReader(pg13))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{TransactionType: tpcb, ScalingFactor: 1, QueryMode: "simple", Clients: 10, Threads: 1,
		Duration: secs(10), Processed: 16,
		Outcome: Outcome{Skipped: ratio(0, 0), LatencyAvgMs: ptr(5.518), LatencyStddevMs: ptr(1.834)},
		// Before 11 the above-limit line had no "/M".
		LatencyLimit:            &LatencyLimit{LimitMs: 1, Late: 16, Pct: 100},
		LagAvgMs:                ptr(0.694),
		LagMaxMs:                ptr(1.823),
		TPSIncludingConnections: ptr(1.599917),
		TPSExcludingConnections: ptr(1.600319),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s\nwant %s", dump(got), dump(want))
	}
	if tps, ok := got.TPS(); !ok || tps != 1.600319 {
		t.Errorf("TPS() = %v, %v; want the excluding-connections tps", tps, ok)
	}
}

func TestSummaryTPS(t *testing.T) {
	tests := []struct {
		s    Summary
		want float64
		ok   bool
	}{
		{Summary{TPSWithoutInitialConnection: ptr(10.0)}, 10, true},
		{Summary{TPSIncludingReconnection: ptr(20.0)}, 20, true},
		{Summary{TPSIncludingConnections: ptr(29.0), TPSExcludingConnections: ptr(30.0)}, 30, true},
		{Summary{TPSIncludingConnections: ptr(29.0)}, 29, true},
		{Summary{}, 0, false},
	}
	for _, tt := range tests {
		if got, ok := tt.s.TPS(); got != tt.want || ok != tt.ok {
			t.Errorf("TPS() of %s = %v, %v; want %v, %v", dump(tt.s), got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseSummaryUnknownAndBadLines(t *testing.T) {
	in := strings.Join([]string{
		"pgbench (15.18 (Debian 15.18-0+deb12u1))",
		"transaction type: <builtin: TPC-B (sort of)>",
		"something pgbench 19 might add: 42",
		"number of clients: many",
		"number of threads: 2",
		"tps = 12.5 (measured with a sundial)",
		"latency average = 1.5 ms",
		"",
	}, "\r\n")
	got, err := ParseSummary(strings.NewReader(in))

	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Line, "number of clients: many") || !strings.Contains(se.What, "line 4") {
		t.Fatalf("error = %v, want a *SyntaxError for line 4", err)
	}
	if errors.Is(err, ErrNoSummary) {
		t.Errorf("error %v claims there is no summary", err)
	}
	wantUnparsed := []string{"something pgbench 19 might add: 42", "number of clients: many",
		"tps = 12.5 (measured with a sundial)"}
	if !reflect.DeepEqual(got.Unparsed, wantUnparsed) {
		t.Errorf("Unparsed = %q, want %q", got.Unparsed, wantUnparsed)
	}
	// Everything else still parsed.
	if got.Threads != 2 || got.LatencyAvgMs == nil || *got.LatencyAvgMs != 1.5 || got.Version != pg15 {
		t.Errorf("summary = %s", dump(got))
	}
}

func TestParseSummaryNoSummary(t *testing.T) {
	for _, in := range []string{"", "\n", "pgbench: error: connection to server failed\n"} {
		got, err := ParseSummary(strings.NewReader(in))
		if !errors.Is(err, ErrNoSummary) {
			t.Errorf("ParseSummary(%q) error = %v, want ErrNoSummary", in, err)
		}
		if len(got.Unparsed) != strings.Count(in, "\n") {
			t.Errorf("ParseSummary(%q) Unparsed = %q", in, got.Unparsed)
		}
	}
}

func TestParseSummaryReadError(t *testing.T) {
	r := iotest.TimeoutReader(strings.NewReader(strings.Repeat("scaling factor: 1\n", 10_000)))
	got, err := ParseSummary(r)
	if !errors.Is(err, iotest.ErrTimeout) || !strings.Contains(err.Error(), "read pgbench summary") {
		t.Fatalf("error = %v, want the reader's error, wrapped", err)
	}
	if got.ScalingFactor != 1 {
		t.Errorf("lines before the error were dropped: %s", dump(got))
	}
}

// A statement line that does not parse is a continuation of the command before it, not an error.
func TestParseSummaryStatementContinuation(t *testing.T) {
	in := `transaction type: x.sql
statement latencies in milliseconds and failures:
         0.010           0  \set a 1 + \
   2
         0.500           0  SELECT :a;
tps = 1.000000 (without initial connection time)
`
	got, err := ParseSummary(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []StatementLatency{
		{LatencyMs: 0.01, Failures: ptr[int64](0), Command: "\\set a 1 + \\\n2"},
		{LatencyMs: 0.5, Failures: ptr[int64](0), Command: "SELECT :a;"},
	}
	if !reflect.DeepEqual(got.Statements, want) || got.TPSWithoutInitialConnection == nil || len(got.Unparsed) != 0 {
		t.Errorf("got %s", dump(got))
	}
}

func FuzzParseSummary(f *testing.F) {
	for _, file := range []string{"pg15/shared/F.out", "pg15/shared/D.out", "pg15/shared/J.out",
		"pg15/multi-script/stdout", "pg14/T-P.stdout", "pg18/multi.stdout", "pg17/retries.stdout"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSummary(strings.NewReader(in))
		var se *SyntaxError
		if err != nil && !errors.Is(err, ErrNoSummary) && !errors.As(err, &se) {
			t.Errorf("unexpected error type: %v", err)
		}
		// Every input line is either understood or kept.
		if n := strings.Count(in, "\n") + 1; len(s.Unparsed) > n {
			t.Errorf("%d unparsed lines from %d input lines", len(s.Unparsed), n)
		}
	})
}

func parseSummaryFile(t *testing.T, name string) Summary {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseSummary(f)
	if err != nil {
		t.Fatalf("ParseSummary(%s): %v", name, err)
	}
	if len(s.Unparsed) != 0 {
		t.Errorf("ParseSummary(%s) left lines unparsed: %q", name, s.Unparsed)
	}
	return s
}
