package agent

import (
	"context"
	"encoding/json"
	"io"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// A Kind runs the jobs of one kind (schema.KindMQTT, schema.KindPgbench) through the same run lifecycle as its CLI
// command: the kind's DecodeSpec and Execute. The agent only decides whether and when to run a job; what a run
// is belongs to the kind's package.
type Kind interface {
	// Check decodes and validates spec as the kind's DecodeSpec does; its error, in one line, is the reason a job
	// is rejected.
	Check(spec json.RawMessage) error
	// Execute runs one run of spec to its end (run_started … run_finished through env.Publisher) and says how it
	// ended. ctx's cancellation aborts the run: status aborted, samples kept.
	Execute(ctx context.Context, env Env, spec json.RawMessage) Outcome
}

// Env is what the agent gives a job's run.
type Env struct {
	Config         *config.Config
	Publisher      *publish.Publisher // the agent's spool, open for its whole life: the run must not close it
	Stdout, Stderr io.Writer
	Name           string            // the job's run name
	Tags           map[string]string // the job's tags, added to producer.tags
	JobID, GroupID uuid.UUID
	// OnStarted is called with the run id once run_started is in the spool: the agent reports the job running.
	OnStarted func(runID uuid.UUID)
}

// Outcome is how a job's run ended.
type Outcome struct {
	Status schema.Status // ok, failed or aborted
	Reason string        // why it failed or was aborted, one line; "" for ok
}
