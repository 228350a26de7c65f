package recorder

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// Env is where one run executes: what the load kinds' Execute (mqttload, pgbench) needs besides the run's spec.
// The CLI commands fill it from their flags and configuration, the fleet agent from a job and its own
// configuration; the run's lifecycle is the same for both.
type Env struct {
	// Config is the resolved configuration: kafka, producer (spool, tags, device, pgbench path), perftarget.
	Config *config.Config
	// Stdout receives the progress lines and the summary, Stderr warnings and errors; nil discards them. Execute
	// writes both through Redactor.
	Stdout, Stderr io.Writer
	// Redactor masks every secret in what the run prints, records or writes; nil = one over the environment's
	// secrets (schema.EnvSecrets). Execute adds the configuration's passwords to it.
	Redactor *schema.Redactor
	// Name and Tags are the run's name and tags (added to producer.tags and producer.device).
	Name string
	Tags map[string]string
	// JobID and GroupID name the fleet job the run is for, on its run_started; nil for a run of the command line.
	JobID, GroupID *uuid.UUID
	// OnStarted, if set, is called once with the run id when run_started has been written to the spool (or
	// failed to be), from the recorder's writer goroutine: it must not wait for the run.
	OnStarted func(runID uuid.UUID)
	// Publisher is a spool publisher the caller owns and keeps open across runs (the fleet agent's); nil = the
	// run opens Config.Producer.SpoolDir's spool for itself and closes it at the end, as the CLI commands do.
	Publisher *publish.Publisher
	// SummaryJSON is a file to write the run's summary to as JSON (the CLI's --summary-json), once its records are
	// closed, with its final outcome; "" = none.
	SummaryJSON string
}

// Prepared returns e ready for a run: a redactor when it has none, writers masked by it (nil ones discard).
func (e Env) Prepared() Env {
	if e.Redactor == nil {
		e.Redactor = schema.NewRedactor(schema.EnvSecrets(os.Getenv)...)
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	e.Stdout, e.Stderr = e.Redactor.Writer(e.Stdout), e.Redactor.Writer(e.Stderr)
	return e
}

// Recorder returns the run's recorder for command ("producer mqtt", for messages): over e.Publisher when set
// (New), else over the run's own spool (Open). Its run_started names e's job, and e.OnStarted is called once it
// is written.
func (e Env) Recorder(ctx context.Context, command string) (*Recorder, error) {
	var r *Recorder
	if e.Publisher != nil {
		r = New(ctx, e.Publisher, e.Config, command, e.Stdout, e.Stderr)
	} else {
		var err error
		if r, err = Open(ctx, e.Config, command, e.Stdout, e.Stderr); err != nil {
			return nil, err
		}
	}
	r.jobID, r.groupID, r.onStarted = e.JobID, e.GroupID, e.OnStarted
	return r, nil
}

// Outcome is how one run ended, as Execute returns it.
type Outcome struct {
	// RunID is the run's id; uuid.Nil when the run never started (bad spec, spool not opened).
	RunID uuid.UUID
	// Status is the run's status as recorded: ok, failed or aborted. A run that never started is failed, and an
	// ok run whose records could not all be saved is failed too.
	Status schema.Status
	// Err says why the run failed or was aborted, one line, secrets masked; "" when ok.
	Err string
	// Exit is the command's exit status for the run (the kind's Exit constants).
	Exit int
	// NotSaved says that the run ended ok but records of it could not all be saved to the spool: Status is failed
	// for that alone, and Exit is ExitNotSaved.
	NotSaved bool
	// NotSavedRecords is how many records of the run could not be saved to the spool, as Close reported them,
	// whatever the run's status; 0 when all were saved (or before CloseOutcome).
	NotSavedRecords int
}

// Final is a run's final outcome as --summary-json writes it, for mqtt and pgbench alike (embedded in their
// summary files): what the exit status says, for a script that reads the file instead.
type Final struct {
	Status          schema.Status `json:"status"`
	Error           string        `json:"error,omitempty"`
	ExitCode        int           `json:"exit_code"`         // the run's (a --compare-with comparison may still change the command's)
	RecordsNotSaved int           `json:"records_not_saved"` // records not saved to the producer's spool (0: all were)
}

// Final returns out as --summary-json writes it, its error text through mask (the run's Redactor).
func (out Outcome) Final(mask func(string) string) Final {
	return Final{Status: out.Status, Error: mask(out.Err), ExitCode: out.Exit, RecordsNotSaved: out.NotSavedRecords}
}

func (f *Final) setFinal(x Final) { *f = x }

// Summary is a kind's --summary-json file: its figures, with Final embedded.
type Summary interface{ setFinal(Final) }

// WriteSummary writes summary to path as --summary-json, with out as its final outcome (the error text through mask,
// the run's Redactor). out must be what CloseOutcome returned: the file tells what the exit status says.
func WriteSummary(path string, summary Summary, out Outcome, mask func(string) string) error {
	summary.setFinal(out.Final(mask))
	b, err := json.MarshalIndent(summary, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("write --summary-json: %w", err)
	}
	return nil
}

// OneLine joins the lines of a message (errors.Join's, say) with "; ", for Outcome.Err and job events.
func OneLine(msg string) string { return strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ") }

// CloseOutcome closes r and returns out as the closing changed it, records not saved included: NotSavedRecords
// is their count; the exit status of an ok run becomes ExitNotSaved, its status failed and its Err the count,
// when records of the run could not all be saved; a run that had already failed or was aborted keeps its status
// and exit status, and its Err adds the count, as run_finished does (see Recorder). r may be nil (the run never
// got a recorder): out is returned as it is.
func CloseOutcome(r *Recorder, out Outcome) Outcome {
	if r == nil {
		return out
	}
	code := r.Close(out.Exit)
	// Set by close, which closeOnce has finished: no lock needed, and a record published after Close (counted in
	// r.lost too) does not change what Close reported.
	n := r.closeLost
	out.NotSavedRecords = n
	if n == 0 {
		return out
	}
	note := fmt.Sprintf("%s of this run not saved to the producer's spool", records(n))
	if code != out.Exit && out.Status == schema.StatusOK {
		out.Status, out.Err, out.NotSaved = schema.StatusFailed, note, true
	} else {
		out.Err = strings.TrimPrefix(out.Err+"; "+note, "; ")
	}
	out.Exit = code
	return out
}

// CompareAfter implements --compare-with for a run that ended ok (out.Status ok, or out.NotSaved) with its records
// closed: it waits until the run is visible as finished over GraphQL, compares it with baseline ("last",
// "history" or a run id) and returns the comparison's exit status. A run whose records were not all saved is not
// compared: its exit status is returned as it is.
func CompareAfter(ctx context.Context, cfg *config.Config, command string, out Outcome, baseline string,
	maxRegression compare.Thresholds, stdout, stderr io.Writer) int {
	if out.NotSaved || out.Exit != 0 {
		fmt.Fprintf(stderr, "%s: --compare-with: not compared: the run's records were not all saved\n", command)
		return out.Exit
	}
	code, err := compare.AfterRun(ctx, cfg, out.RunID, baseline, compare.Options{MaxRegression: maxRegression}, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --compare-with: %v\n", command, err)
	}
	return code
}
