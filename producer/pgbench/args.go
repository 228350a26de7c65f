package pgbench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// pgbench's command line, read the way pgbench's getopt_long reads it, so that `producer pgbench` knows what
// the user asked for (clients, threads, duration, rate, retries, logging, connection) without changing a byte
// of it: the user's arguments are passed through untouched and the producer only prepends the options it needs.

// optSpec is one pgbench option. name is the canonical long name, short the one-letter form (0 when there is
// none); arg says whether it takes a value (all of pgbench's values are required, none optional).
type optSpec struct {
	name  string
	short byte
	arg   bool
}

// pgbenchOptions lists the options of pgbench 9.6–18 under their long names. Options a given version does not
// know are harmless here: pgbench itself rejects them. Only -d changed meaning (see optionsFor).
var pgbenchOptions = []optSpec{
	{"builtin", 'b', true}, {"client", 'c', true}, {"connect", 'C', false}, {"define", 'D', true},
	{"file", 'f', true}, {"fillfactor", 'F', true}, {"host", 'h', true}, {"initialize", 'i', false},
	{"init-steps", 'I', true}, {"jobs", 'j', true}, {"log", 'l', false}, {"latency-limit", 'L', true},
	{"no-vacuum", 'n', false}, {"port", 'p', true}, {"progress", 'P', true}, {"protocol", 'M', true},
	{"quiet", 'q', false}, {"report-per-command", 'r', false}, {"rate", 'R', true}, {"scale", 's', true},
	{"select-only", 'S', false}, {"skip-some-updates", 'N', false}, {"time", 'T', true},
	{"transactions", 't', true}, {"username", 'U', true}, {"vacuum-all", 'v', false},
	{"unlogged-tables", 0, false}, {"tablespace", 0, true}, {"index-tablespace", 0, true},
	{"sampling-rate", 0, true}, {"aggregate-interval", 0, true}, {"progress-timestamp", 0, false},
	{"log-prefix", 0, true}, {"foreign-keys", 0, false}, {"random-seed", 0, true}, {"show-script", 0, true},
	{"partitions", 0, true}, {"partition-method", 0, true}, {"failures-detailed", 0, false},
	{"max-tries", 0, true}, {"verbose-errors", 0, false}, {"exit-on-abort", 0, false},
	{"continue-on-error", 0, false},
}

// longAliases are older long names of an option.
var longAliases = map[string]string{"report-latencies": "report-per-command"}

// optionsFor returns the option table of a pgbench major version. pgbench 17 made -d the database name
// (--dbname) and left debugging output to --debug; before, -d was --debug and took no value.
func optionsFor(major int) []optSpec {
	opts := append([]optSpec(nil), pgbenchOptions...)
	if major >= 17 {
		return append(opts, optSpec{"dbname", 'd', true}, optSpec{"debug", 0, false})
	}
	return append(opts, optSpec{"debug", 'd', false})
}

// option is one option as given: its canonical name and value.
type option struct {
	name  string
	value string
}

// cmdline is a pgbench command line taken apart.
type cmdline struct {
	opts       []option // in order; a later one of the same name wins, as in pgbench
	positional []string // the database name (pgbench accepts one)
	unknown    []string // options this table does not know; pgbench will say what is wrong with them
}

// parseCmdline reads args as pgbench's getopt_long does: short options clustered ("-nS", "-c4"), long options
// with "=" or a separate value, unambiguous prefixes of long options, non-options anywhere (permutation), "--"
// ending the options.
func parseCmdline(args []string, major int) cmdline {
	table := optionsFor(major)
	byShort := map[byte]optSpec{}
	for _, o := range table {
		if o.short != 0 {
			byShort[o.short] = o
		}
	}
	var c cmdline
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			c.positional = append(c.positional, args[i+1:]...)
			return c
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			spec, ok := lookupLong(table, name)
			if !ok || (hasValue && !spec.arg) {
				c.unknown = append(c.unknown, a)
				continue
			}
			if spec.arg && !hasValue {
				if i+1 >= len(args) {
					c.unknown = append(c.unknown, a) // pgbench: "option requires an argument"
					continue
				}
				i++
				value = args[i]
			}
			c.opts = append(c.opts, option{spec.name, value})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				spec, ok := byShort[a[j]]
				if !ok {
					c.unknown = append(c.unknown, "-"+string(a[j]))
					continue
				}
				if !spec.arg {
					c.opts = append(c.opts, option{name: spec.name})
					continue
				}
				value := a[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						c.unknown = append(c.unknown, "-"+string(a[j]))
						break
					}
					i++
					value = args[i]
				}
				c.opts = append(c.opts, option{spec.name, value})
				break
			}
		default:
			c.positional = append(c.positional, a)
		}
	}
	return c
}

// lookupLong finds a long option by its name or, as getopt_long does, by a prefix that names one option only.
func lookupLong(table []optSpec, name string) (optSpec, bool) {
	if alias, ok := longAliases[name]; ok {
		name = alias
	}
	var found []optSpec
	for _, o := range table {
		if o.name == name {
			return o, true
		}
		if strings.HasPrefix(o.name, name) {
			found = append(found, o)
		}
	}
	for alias, target := range longAliases {
		if strings.HasPrefix(alias, name) {
			for _, o := range table {
				if o.name == target && !containsSpec(found, target) {
					found = append(found, o)
				}
			}
		}
	}
	if name == "" || len(found) != 1 {
		return optSpec{}, false
	}
	return found[0], true
}

func containsSpec(specs []optSpec, name string) bool {
	for _, s := range specs {
		if s.name == name {
			return true
		}
	}
	return false
}

// has reports whether option name was given.
func (c cmdline) has(name string) bool {
	for _, o := range c.opts {
		if o.name == name {
			return true
		}
	}
	return false
}

// last returns the value of the last occurrence of option name.
func (c cmdline) last(name string) (string, bool) {
	for i := len(c.opts) - 1; i >= 0; i-- {
		if c.opts[i].name == name {
			return c.opts[i].value, true
		}
	}
	return "", false
}

// benchArgs is what a pgbench command line asks for, with pgbench's defaults filled in. A value pgbench would
// reject keeps its default here: pgbench exits with status 1 and says why, and the run records that.
type benchArgs struct {
	clients, threads int // threads as pgbench runs them: at most one per client
	duration         time.Duration
	transactions     int64 // per client (-t); 0 with -T
	rate             float64
	latencyLimitMs   float64
	maxTries         int64 // 0 = unlimited
	progress         int   // -P seconds; 0 when not given
	progressStamp    bool
	log              bool
	logPrefix        string // as given; "" when not given
	aggInterval      int
	samplingRate     float64
	host, port, user string
	dbname           string // -d/--dbname (pgbench 17+) or the positional argument; "" when not given
	scripts          []string
	protocol         string
	connect          bool
	initMode         bool
	infoOnly         bool // --help, --version, -b list, --show-script: pgbench prints something and exits
	unknown          []string
}

// readBenchArgs interprets a pgbench command line for a pgbench of the given major version.
func readBenchArgs(args []string, major int) benchArgs {
	c := parseCmdline(args, major)
	b := benchArgs{clients: 1, threads: 1, maxTries: 1, unknown: c.unknown}
	if len(args) > 0 {
		switch args[0] { // pgbench looks for these in the first argument only
		case "--help", "-?", "--version", "-V":
			b.infoOnly = true
		}
	}
	for _, o := range c.opts {
		switch o.name {
		case "client":
			b.clients = atoiOr(o.value, b.clients)
		case "jobs":
			b.threads = atoiOr(o.value, b.threads)
		case "time":
			if n := atoiOr(o.value, 0); n > 0 {
				b.duration, b.transactions = time.Duration(n)*time.Second, 0
			}
		case "transactions":
			if n := atoiOr(o.value, 0); n > 0 {
				b.transactions, b.duration = int64(n), 0
			}
		case "rate":
			b.rate = leadingFloat(o.value)
		case "latency-limit":
			b.latencyLimitMs = leadingFloat(o.value)
		case "max-tries":
			b.maxTries = int64(leadingInt(o.value))
		case "progress":
			b.progress = atoiOr(o.value, 0)
		case "progress-timestamp":
			b.progressStamp = true
		case "log":
			b.log = true
		case "log-prefix":
			b.logPrefix = o.value
		case "aggregate-interval":
			b.aggInterval = atoiOr(o.value, 0)
		case "sampling-rate":
			b.samplingRate = leadingFloat(o.value)
		case "host":
			b.host = o.value
		case "port":
			b.port = o.value
		case "username":
			b.user = o.value
		case "dbname":
			b.dbname = o.value
		case "builtin":
			if o.value == "list" {
				b.infoOnly = true
			}
			b.scripts = append(b.scripts, "builtin:"+o.value)
		case "file":
			b.scripts = append(b.scripts, "file:"+o.value)
		case "select-only":
			b.scripts = append(b.scripts, "builtin:select-only")
		case "skip-some-updates":
			b.scripts = append(b.scripts, "builtin:simple-update")
		case "protocol":
			b.protocol = o.value
		case "connect":
			b.connect = true
		case "initialize":
			b.initMode = true
		case "show-script":
			b.infoOnly = true
		}
	}
	if b.dbname == "" && len(c.positional) > 0 {
		b.dbname = c.positional[0]
	}
	if len(b.scripts) == 0 {
		b.scripts = []string{"builtin:tpcb-like"}
	}
	b.clients = max(b.clients, 1)
	b.threads = min(max(b.threads, 1), b.clients)
	if b.transactions == 0 && b.duration == 0 {
		b.transactions = 10 // pgbench's default
	}
	return b
}

// logOptions says which columns the per-transaction log has for this command line.
func (b benchArgs) logOptions() LogOptions {
	return LogOptions{HasLag: b.rate > 0, HasRetries: b.maxTries != 1}
}

// connArgs returns the connection options to give pgbench -i so that it initialises the database the benchmark
// uses.
func (b benchArgs) connArgs() []string {
	var out []string
	if b.host != "" {
		out = append(out, "-h", b.host)
	}
	if b.port != "" {
		out = append(out, "-p", b.port)
	}
	if b.user != "" {
		out = append(out, "-U", b.user)
	}
	if b.dbname != "" {
		out = append(out, "--", b.dbname)
	}
	return out
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// leadingFloat reads a number the way C's atof does: the longest prefix that is a number, 0 if none.
func leadingFloat(s string) float64 {
	s = strings.TrimSpace(s)
	for end := len(s); end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
	}
	return 0
}

// leadingInt reads an integer the way C's atoi does.
func leadingInt(s string) int {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && (s[end] == '-' || s[end] == '+')) {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// latencyMode says where a run's per-interval counts and latencies come from.
type latencyMode int

const (
	// modeExact: the per-transaction log of every transaction gives counts and the exact latency distribution.
	modeExact latencyMode = iota
	// modeSampled: --sampling-rate logs a random share of the transactions: latency percentiles are estimated
	// from it and counts come from the progress lines.
	modeSampled
	// modeProgress: no per-transaction log (--aggregate-interval): counts and pgbench's figures from the
	// progress lines, no latency distribution.
	modeProgress
)

func (m latencyMode) String() string {
	switch m {
	case modeExact:
		return "per-transaction log"
	case modeSampled:
		return "sampled per-transaction log"
	}
	return "none"
}

// plan is how the producer runs the user's pgbench command line.
type plan struct {
	mode        latencyMode
	interval    time.Duration // between progress lines: one sample each
	privateLog  bool          // the producer adds -l with a log prefix in its own temporary directory
	logPrefix   string        // the user's log prefix to follow when !privateLog (mode ≠ modeProgress)
	addProgress bool          // add -P 1
	addStamp    bool          // add --progress-timestamp
	notes       []string      // what the user's own options cost, for stderr and the run record
}

// defaultLogPrefix is what pgbench calls its log files without --log-prefix.
const defaultLogPrefix = "pgbench_log"

// makePlan decides what the producer adds to the user's pgbench options and what it can measure with them.
func makePlan(b benchArgs) plan {
	p := plan{interval: time.Second}
	switch {
	case b.aggInterval > 0:
		p.mode = modeProgress
		p.notes = append(p.notes, "--aggregate-interval: pgbench writes only aggregated logs (sums, no distribution), "+
			"so there are no latency percentiles; samples carry pgbench's progress figures (tps, mean latency, "+
			"stddev) and counts derived from them")
	case b.samplingRate > 0 && b.samplingRate < 1:
		p.mode = modeSampled
		p.notes = append(p.notes, fmt.Sprintf("--sampling-rate %g: only that share of the transactions is logged, so "+
			"latency percentiles are estimated from the sample, not exact; transaction counts come from the progress lines", b.samplingRate))
	default:
		p.mode = modeExact
	}
	if p.mode != modeProgress {
		if b.log || b.logPrefix != "" {
			p.logPrefix = b.logPrefix
			if p.logPrefix == "" {
				p.logPrefix = defaultLogPrefix
			}
			p.notes = append(p.notes, fmt.Sprintf("-l: following your own per-transaction log %s.<pid>*; its files are kept", p.logPrefix))
		} else {
			p.privateLog = true
		}
	}
	if b.progress > 0 {
		p.interval = time.Duration(b.progress) * time.Second
		if b.progress != 1 {
			p.notes = append(p.notes, fmt.Sprintf("-P %d: one sample every %d s instead of every second", b.progress, b.progress))
		}
	} else {
		p.addProgress = true
	}
	p.addStamp = !b.progressStamp
	return p
}

// command returns the arguments to run: the producer's additions, then the user's arguments untouched. The
// additions go first because pgbench reads options before the database name only when POSIXLY_CORRECT is set.
func (p plan) command(userArgs []string, privateDir string) (args, added []string) {
	if p.addProgress {
		added = append(added, "-P", "1")
	}
	if p.addStamp {
		added = append(added, "--progress-timestamp")
	}
	if p.privateLog {
		added = append(added, "-l", "--log-prefix", p.followPrefix(privateDir))
	}
	return append(append([]string(nil), added...), userArgs...), added
}

// followPrefix is the log prefix the tailer follows.
func (p plan) followPrefix(privateDir string) string {
	if p.privateLog {
		return privateDir + "/" + defaultLogPrefix
	}
	return p.logPrefix
}

// redactArg removes credentials from one command-line argument: the password of a connection URI (also in
// --dbname=URI form, and whatever characters the password holds), password=… in a key=value connection string,
// and whatever does not parse there (see schema.RedactURL).
func redactArg(a string) string {
	var out string
	if i := strings.Index(a, "://"); i >= 0 {
		start := i
		for start > 0 && strings.IndexByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", a[start-1]) >= 0 {
			start--
		}
		out = a[:start] + schema.RedactURL(a[start:])
	} else if out = schema.RedactURL(a); out == "" && a != "" {
		out = schema.RedactText(a) // "password=…" alone: RedactURL leaves nothing to show
	}
	// Whatever the parsers above did not take for a connection string ("h password=…" is none) still loses
	// every password libpq would find in it.
	for _, secret := range schema.ConnSecrets(a) {
		if secret != "" {
			out = strings.ReplaceAll(out, secret, "****")
		}
	}
	return out
}

// redactArgs returns args with redactArg applied to each.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redactArg(a)
	}
	return out
}
