package agent

import (
	"context"
	"encoding/json"

	"github.com/benchpipe/benchpipe/producer/jobkind"
	"github.com/benchpipe/benchpipe/producer/recorder"
)

// A Kind runs the jobs of one kind (schema.KindMQTT, schema.KindPgbench) through the same run lifecycle as its CLI
// command. The agent only decides whether and when to run a job; what a run is belongs to the kind's package, and
// which specs a kind accepts to producer/jobkind, which the API that launches jobs checks them with too.
type Kind interface {
	// Check decodes and validates spec as jobkind's Decode does; its error is the reason a job is rejected.
	Check(spec json.RawMessage) error
	// Execute runs one run of spec to its end (run_started … run_finished through env.Publisher, the agent's
	// spool) and says how it ended. ctx's cancellation aborts the run: status aborted, samples kept.
	Execute(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome
}

// registered is a Kind of the job kinds' registry.
type registered struct{ jobkind.Kind }

func (k registered) Check(spec json.RawMessage) error {
	_, err := k.Decode(spec)
	return err
}
