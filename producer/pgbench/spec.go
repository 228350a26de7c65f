package pgbench

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// Spec is one pgbench run as a job: pgbench's own arguments and the producer's flags that shape the run. What
// belongs to one invocation (CLIOptions), the run's name and tags (which travel beside it) and the pgbench binary
// (producer.pgbench.path where the run executes) are not part of it, nor is any password: PGPASSWORD, ~/.pgpass
// or a service file where the run executes provide it. In JSON durations are Go duration strings ("10s");
// DecodeSpec reads it back.
type Spec struct {
	PgbenchArgs []string          `json:"pgbench_args"` // as after "--" on the command line
	Warmup      recorder.Duration `json:"warmup"`
	InitScale   int               `json:"init_scale,omitempty"`
	Observe     bool              `json:"observe,omitempty"`
	KeepLogs    bool              `json:"keep_logs,omitempty"`
	LogDir      string            `json:"log_dir,omitempty"` // on the machine that runs the job; "" = $TMPDIR
}

// CLIOptions are the flags of one `producer pgbench` invocation that are not part of the run's Spec.
type CLIOptions struct {
	ConfigPath    string
	SpoolDir      string
	PgbenchPath   string // --pgbench; "" = producer.pgbench.path
	SummaryJSON   string
	CompareWith   string
	MaxRegression compare.Thresholds
	Name          string
	Tags          map[string]string
}

// specMajor is the pgbench version a spec's arguments are read as before the run, when the binary that will run
// them is not known yet: the newest option table, in which -d is --dbname.
const specMajor = 18

// ParseSpec reads a `producer pgbench` command line (producer flags, then pgbench's after "--") with the
// command's own parser: the run's Spec, and the invocation's options beside it. --help prints the usage to stdout
// and returns flag.ErrHelp; any other error is a one-line usage error (see internal/cli).
func ParseSpec(args []string, stdout io.Writer) (Spec, CLIOptions, error) {
	f, err := parseFlags(args, stdout)
	if err != nil {
		return Spec{}, CLIOptions{}, err
	}
	s := Spec{PgbenchArgs: f.pgbenchArgs, Warmup: recorder.Duration(f.warmup), InitScale: f.initScale,
		Observe: f.observe, KeepLogs: f.keepLogs, LogDir: f.logDir}
	if s.PgbenchArgs == nil {
		s.PgbenchArgs = []string{}
	}
	o := CLIOptions{ConfigPath: f.configPath, SpoolDir: f.spoolDir, PgbenchPath: f.pgbenchPath,
		SummaryJSON: f.summaryJSON, CompareWith: f.compareWith, MaxRegression: f.maxRegress, Name: f.name, Tags: f.tags}
	return s, o, nil
}

// DecodeSpec reads a job's spec: a JSON object with unknown fields refused by name, validated as the command
// line is (Validate), and refused when an argument holds a password (ErrSecretInSpec).
func DecodeSpec(b []byte) (Spec, error) {
	s := Spec{PgbenchArgs: []string{}}
	if err := recorder.DecodeStrict(b, &s); err != nil {
		return Spec{}, fmt.Errorf("pgbench %w", err)
	}
	if s.PgbenchArgs == nil {
		s.PgbenchArgs = []string{}
	}
	if err := errors.Join(s.Validate(), s.secrets()); err != nil {
		return Spec{}, fmt.Errorf("pgbench spec: %w", err)
	}
	return s, nil
}

// Validate returns every problem with s at once: the producer flags' checks, and what the run refuses of
// pgbench's arguments before starting it (-i, a warm-up as long as -T), read as the newest pgbench reads them.
// For a job it also refuses pgbench's informational options (--help, --version, -b list, --show-script), which
// measure nothing. The command line checks the arguments again against the installed pgbench.
func (s Spec) Validate() error {
	errs := []error{s.flagErrors()}
	b := readBenchArgs(s.PgbenchArgs, specMajor)
	if b.infoOnly {
		errs = append(errs, fmt.Errorf("pgbench %s only prints information: a job runs a benchmark", strings.Join(redactArgs(s.PgbenchArgs), " ")))
	}
	if err := checkBenchArgs(b, s); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// flagErrors is what the command line's parser refuses of the producer's flags.
func (s Spec) flagErrors() error {
	var errs []error
	if s.Warmup < 0 {
		errs = append(errs, errors.New("--warmup must not be negative"))
	}
	if s.InitScale < 0 {
		errs = append(errs, errors.New("--init-scale must be positive"))
	}
	return errors.Join(errs...)
}

// checkBenchArgs is what the run refuses of pgbench's arguments before starting anything.
func checkBenchArgs(b benchArgs, s Spec) error {
	if b.initMode {
		return errors.New("-i initialises instead of benchmarking: use --init-scale N (it runs pgbench -i -s N before the run), or run pgbench -i yourself")
	}
	if w := s.Warmup.D(); w > 0 && b.duration > 0 && w >= b.duration {
		return fmt.Errorf("--warmup %v leaves nothing to measure in pgbench's -T %d: the warm-up is part of -T", w, int(b.duration.Seconds()))
	}
	return nil
}

// secrets refuses an argument holding a password: a connection URI's, a key=value connection string's
// password= or sslpassword=, in any option or the database name.
func (s Spec) secrets() error {
	for _, a := range s.PgbenchArgs {
		if len(schema.ConnSecrets(a)) > 0 {
			return fmt.Errorf("%w: pgbench argument %s holds a password; the agent's environment ($PGPASSWORD, ~/.pgpass or a service file) provides it",
				recorder.ErrSecretInSpec, redactArg(a))
		}
	}
	return nil
}
