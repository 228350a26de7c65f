package agent

import (
	"context"
	"encoding/json"

	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// A Kind runs the jobs of one kind (schema.KindMQTT, schema.KindPgbench) through the same run lifecycle as its CLI
// command: the kind's DecodeSpec and Execute. The agent only decides whether and when to run a job; what a run
// is belongs to the kind's package.
type Kind interface {
	// Check decodes and validates spec as the kind's DecodeSpec does; its error is the reason a job is rejected.
	Check(spec json.RawMessage) error
	// Execute runs one run of spec to its end (run_started … run_finished through env.Publisher, the agent's
	// spool) and says how it ended. ctx's cancellation aborts the run: status aborted, samples kept.
	Execute(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome
}

// kindOf makes a Kind of a load package's DecodeSpec and Execute.
func kindOf[S any](decode func([]byte) (S, error), execute func(context.Context, recorder.Env, S) recorder.Outcome) Kind {
	return specKind[S]{decode, execute}
}

type specKind[S any] struct {
	decode  func([]byte) (S, error)
	execute func(context.Context, recorder.Env, S) recorder.Outcome
}

func (k specKind[S]) Check(spec json.RawMessage) error {
	_, err := k.decode(spec)
	return err
}

func (k specKind[S]) Execute(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome {
	s, err := k.decode(spec)
	if err != nil { // Check passed a moment ago: only a bug gets here
		return recorder.Outcome{Status: schema.StatusFailed, Err: err.Error()}
	}
	return k.execute(ctx, env, s)
}
