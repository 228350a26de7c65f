package pgbench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		major      int
		opts       []option
		positional []string
		unknown    []string
	}{
		{name: "separate and glued values", args: []string{"-c", "4", "-j2", "-T", "5", "db"}, major: 15,
			opts: []option{{"client", "4"}, {"jobs", "2"}, {"time", "5"}}, positional: []string{"db"}},
		{name: "clusters", args: []string{"-nSc8", "-lr"}, major: 15,
			opts: []option{{"no-vacuum", ""}, {"select-only", ""}, {"client", "8"}, {"log", ""}, {"report-per-command", ""}}},
		{name: "long forms and prefixes", args: []string{"--client=3", "--jobs", "2", "--max-t", "5", "--progress-t", "--report-lat"}, major: 15,
			opts: []option{{"client", "3"}, {"jobs", "2"}, {"max-tries", "5"}, {"progress-timestamp", ""}, {"report-per-command", ""}}},
		{name: "ambiguous prefix is left to pgbench", args: []string{"--prog", "1"}, major: 15,
			unknown: []string{"--prog"}, positional: []string{"1"}},
		{name: "permutation and --", args: []string{"db", "-c", "2", "--", "-T", "9"}, major: 15,
			opts: []option{{"client", "2"}}, positional: []string{"db", "-T", "9"}},
		{name: "-d is debug before 17", args: []string{"-d", "mydb"}, major: 16,
			opts: []option{{"debug", ""}}, positional: []string{"mydb"}},
		{name: "-d is the database from 17", args: []string{"-d", "mydb", "--debug"}, major: 17,
			opts: []option{{"dbname", "mydb"}, {"debug", ""}}},
		{name: "unknown options", args: []string{"-x", "--frobnicate", "--log=1", "-c"}, major: 15,
			unknown: []string{"-x", "--frobnicate", "--log=1", "-c"}},
		{name: "lone dash is an argument", args: []string{"-"}, major: 15, positional: []string{"-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCmdline(tt.args, tt.major)
			if !reflect.DeepEqual(c.opts, tt.opts) || !reflect.DeepEqual(c.positional, tt.positional) || !reflect.DeepEqual(c.unknown, tt.unknown) {
				t.Errorf("parseCmdline(%q)\n got  opts %v positional %q unknown %q\n want opts %v positional %q unknown %q",
					tt.args, c.opts, c.positional, c.unknown, tt.opts, tt.positional, tt.unknown)
			}
		})
	}
}

func TestReadBenchArgs(t *testing.T) {
	b := readBenchArgs(strings.Fields("-c 8 -j 16 -T 30 -R 100.5x -L 20 --max-tries=0 -P 2 -h db -p 6432 -U bench -S -f mix.sql@2 -M prepared -C benchdb"), 15)
	want := benchArgs{clients: 8, threads: 8, duration: 30 * time.Second, rate: 100.5, latencyLimitMs: 20, maxTries: 0,
		progress: 2, host: "db", port: "6432", user: "bench", dbname: "benchdb",
		scripts: []string{"builtin:select-only", "file:mix.sql@2"}, protocol: "prepared", connect: true}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("got  %+v\nwant %+v", b, want)
	}
	if o := b.logOptions(); !o.HasLag || !o.HasRetries {
		t.Errorf("log options %+v: want lag (-R) and retries (--max-tries 0 = unlimited)", o)
	}
	if got := b.connArgs(); !reflect.DeepEqual(got, strings.Fields("-h db -p 6432 -U bench -- benchdb")) {
		t.Errorf("connArgs %q", got)
	}

	d := readBenchArgs(nil, 15)
	if d.clients != 1 || d.threads != 1 || d.transactions != 10 || d.maxTries != 1 || d.logOptions() != (LogOptions{}) ||
		!reflect.DeepEqual(d.scripts, []string{"builtin:tpcb-like"}) {
		t.Errorf("defaults %+v", d)
	}
	if b := readBenchArgs([]string{"-T", "5", "-t", "100"}, 15); b.transactions != 100 || b.duration != 0 {
		t.Errorf("the last of -T/-t wins for planning (pgbench refuses both): %+v", b)
	}
	for _, args := range [][]string{{"--help"}, {"-V"}, {"-b", "list"}, {"--show-script", "tpcb-like"}} {
		if !readBenchArgs(args, 15).infoOnly {
			t.Errorf("%q: want infoOnly", args)
		}
	}
	if !readBenchArgs([]string{"-i", "-s", "10"}, 15).initMode {
		t.Error("-i: want initMode")
	}
	if b := readBenchArgs([]string{"-d", "x"}, 17); b.dbname != "x" {
		t.Errorf("pgbench 17 -d: dbname %q", b.dbname)
	}
}

func TestMakePlan(t *testing.T) {
	tests := []struct {
		name       string
		args       string
		mode       latencyMode
		private    bool
		prefix     string
		interval   time.Duration
		added      string
		noteSubstr string
	}{
		{name: "plain", args: "-c 4 -T 5 db", mode: modeExact, private: true, interval: time.Second,
			added: "-P 1 --progress-timestamp -l --log-prefix /priv/pgbench_log"},
		{name: "own -P 1 and timestamps", args: "-P 1 --progress-timestamp db", mode: modeExact, private: true, interval: time.Second,
			added: "-l --log-prefix /priv/pgbench_log"},
		{name: "own -P 5", args: "-P 5 db", mode: modeExact, private: true, interval: 5 * time.Second,
			added: "--progress-timestamp -l --log-prefix /priv/pgbench_log", noteSubstr: "every 5 s"},
		{name: "own log", args: "-l --log-prefix mine db", mode: modeExact, prefix: "mine", interval: time.Second,
			added: "-P 1 --progress-timestamp", noteSubstr: "mine.<pid>"},
		{name: "own log, default prefix", args: "-l db", mode: modeExact, prefix: "pgbench_log", interval: time.Second,
			added: "-P 1 --progress-timestamp", noteSubstr: "kept"},
		{name: "sampling", args: "-l --sampling-rate 0.1 db", mode: modeSampled, prefix: "pgbench_log", interval: time.Second,
			added: "-P 1 --progress-timestamp", noteSubstr: "estimated"},
		{name: "aggregation", args: "-l --aggregate-interval 10 db", mode: modeProgress, interval: time.Second,
			added: "-P 1 --progress-timestamp", noteSubstr: "no latency percentiles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := strings.Fields(tt.args)
			p := makePlan(readBenchArgs(user, 15))
			args, added := p.command(user, "/priv")
			if p.mode != tt.mode || p.privateLog != tt.private || p.logPrefix != tt.prefix || p.interval != tt.interval ||
				strings.Join(added, " ") != tt.added || !reflect.DeepEqual(args[len(added):], user) {
				t.Errorf("plan %+v added %q args %q", p, added, args)
			}
			notes := strings.Join(p.notes, "\n")
			if tt.noteSubstr == "" && notes != "" || !strings.Contains(notes, tt.noteSubstr) {
				t.Errorf("notes %q, want %q", notes, tt.noteSubstr)
			}
		})
	}
}

func TestRedactArg(t *testing.T) {
	for in, want := range map[string]string{
		"postgresql://bench:s3cret@db:5432/bench":          "postgresql://bench@db:5432/bench",
		"--dbname=postgres://u:s3cret@h/db?sslmode=prefer": "--dbname=postgres://u@h/db?sslmode=prefer",
		"host=db password=s3cret dbname=bench":             "host=db dbname=bench",
		"host=db password='s3 \\'cret' user=x":             "host=db user=x",
		"host=db sslpassword=s3cret":                       "host=db",
		"dbname=x PASSWORD = s3cret":                       "dbname=x",
		// Passwords net/url refuses (issue 11 item 5): the old redactor passed these through.
		"postgresql://u:s3#ss@db/bench":           "postgresql://u@db/bench",
		"--dbname=postgresql://u:s3%off@db/bench": "--dbname=postgresql://u@db/bench",
		"postgresql://u:s3/b@db/bench":            "postgresql://u@db/bench",
		"host=db password='s3 unterminated":       "host=db ****",
		// Not connection strings to RedactURL, still passwords to libpq.
		"h password=s3cret":   "h password=****",
		"password=s3cret":     "password=****",
		"-c":                  "-c",
		"mix.sql@2":           "mix.sql@2",
		"--log-prefix=/tmp/x": "--log-prefix=/tmp/x",
	} {
		if got := redactArg(in); got != want || strings.Contains(got, "s3") {
			t.Errorf("redactArg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	v, major, err := parseVersion("pgbench (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n")
	if err != nil || v != "15.18 (Debian 15.18-0+deb12u1)" || major != 15 {
		t.Errorf("got %q %d %v", v, major, err)
	}
	if _, major, err := parseVersion("pgbench (PostgreSQL) 18beta1"); err != nil || major != 18 {
		t.Errorf("18beta1: %d %v", major, err)
	}
	if _, _, err := parseVersion("psql (PostgreSQL) 15.1"); err == nil {
		t.Error("psql's version accepted")
	}
}
