// Package jobkind is the one list of the job kinds the fleet runs (schema.KindMQTT, schema.KindPgbench): for each,
// how `producer launch <kind> flags…` reads its command line (Parse), how a job's spec is checked and completed
// (Decode), and how a job runs (Execute), each the kind's own package functions (ParseSpec, DecodeSpec, Execute).
// The launch command, the API that produces jobs (sink/api) and the agent that runs them all go through it, so they
// accept and refuse the same specs, and a new kind is one entry in kinds.
package jobkind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// kinds are the job kinds, in the order of their names.
var kinds = []Kind{
	of(schema.KindMQTT, mqttload.ParseSpec, mqttload.DecodeSpec, mqttload.Execute, func(o mqttload.CLIOptions) Invocation {
		return Invocation{Name: o.Name, Tags: o.Tags, Local: given("config", o.ConfigPath, "spool-dir", o.SpoolDir,
			"summary-json", o.SummaryJSON, "compare-with", o.CompareWith, "max-regression", o.MaxRegression)}
	}),
	of(schema.KindPgbench, pgbench.ParseSpec, pgbench.DecodeSpec, pgbench.Execute, func(o pgbench.CLIOptions) Invocation {
		return Invocation{Name: o.Name, Tags: o.Tags, Local: given("config", o.ConfigPath, "spool-dir", o.SpoolDir,
			"pgbench", o.PgbenchPath, "summary-json", o.SummaryJSON, "compare-with", o.CompareWith, "max-regression", o.MaxRegression)}
	}),
}

// A Kind is one job kind. Its zero value is no kind: get one from Lookup or All.
type Kind struct {
	name    string
	parse   func(args []string, stdout io.Writer) (json.RawMessage, Invocation, error)
	decode  func(spec json.RawMessage) (json.RawMessage, error)
	execute func(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome
}

// Invocation is what a kind's command line gives beside its spec.
type Invocation struct {
	Name  string            // the run's --name
	Tags  map[string]string // the run's --tag
	Local []string          // the flags of one local run that were given (a job cannot take them), in flag order
}

// Lookup returns the kind named name, and whether there is one.
func Lookup(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// All returns every kind, in the order of their names.
func All() []Kind { return slices.Clone(kinds) }

// Names returns the kinds' names, in order.
func Names() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// Either returns the kinds' names for a message that lists the choices: "mqtt or pgbench".
func Either() string {
	names := Names()
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Name is the kind's name, as jobs (schema.Job.Kind) and the command line name it.
func (k Kind) Name() string { return k.name }

// Parse reads the kind's command line (the flags of `producer <kind>`) with the command's own parser, and returns
// the spec it gives, not yet checked (Decode checks it), and the invocation's other flags. --help prints the usage
// to stdout and returns flag.ErrHelp; any other error is a one-line usage error (see internal/cli).
func (k Kind) Parse(args []string, stdout io.Writer) (json.RawMessage, Invocation, error) {
	return k.parse(args, stdout)
}

// Decode checks spec, a job's spec, and returns it as it will run: every field, defaults filled in. Its error is why
// the spec is refused: not a JSON object, a secret anywhere in it (a *SecretError), or what the kind's DecodeSpec
// refuses (unknown fields, values the command line refuses, a password in a connection string). It may span lines.
func (k Kind) Decode(spec json.RawMessage) (json.RawMessage, error) { return k.decode(spec) }

// Execute runs one run of spec, decoded as Decode does, to its end (run_started … run_finished through
// env.Publisher) and says how it ended; a spec that Decode refuses ends it failed with the reason. ctx's
// cancellation aborts the run: status aborted, samples kept.
func (k Kind) Execute(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome {
	return k.execute(ctx, env, spec)
}

// of makes a Kind of a load package's ParseSpec, DecodeSpec and Execute; invocation picks the name, tags and local
// flags out of the package's CLIOptions.
func of[S, O any](name string,
	parse func([]string, io.Writer) (S, O, error),
	decode func([]byte) (S, error),
	execute func(context.Context, recorder.Env, S) recorder.Outcome,
	invocation func(O) Invocation,
) Kind {
	check := func(spec json.RawMessage) (S, error) {
		var obj map[string]any
		if err := json.Unmarshal(spec, &obj); err != nil || obj == nil {
			var zero S
			return zero, fmt.Errorf("spec must be a JSON object (the %s job's parameters)", name)
		}
		// Before the kind's decoder, so that a secret is named as one rather than as an unknown field.
		if where := secretIn("spec", obj); where != "" {
			var zero S
			return zero, &SecretError{Where: where}
		}
		return decode(spec)
	}
	return Kind{
		name: name,
		parse: func(args []string, stdout io.Writer) (json.RawMessage, Invocation, error) {
			s, o, err := parse(args, stdout)
			if err != nil {
				return nil, Invocation{}, err
			}
			return encode(s), invocation(o), nil
		},
		decode: func(spec json.RawMessage) (json.RawMessage, error) {
			s, err := check(spec)
			if err != nil {
				return nil, err
			}
			return encode(s), nil
		},
		execute: func(ctx context.Context, env recorder.Env, spec json.RawMessage) recorder.Outcome {
			s, err := check(spec)
			if err != nil { // the caller decoded it a moment ago: only a bug gets here
				return recorder.Outcome{Status: schema.StatusFailed, Err: err.Error()}
			}
			return execute(ctx, env, s)
		},
	}
}

// encode is a spec's job form.
func encode(spec any) json.RawMessage {
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // a Spec is plain data: it always encodes
	}
	return b
}

// given returns the names of the flags whose values are not their zero values, of name, value pairs, in order.
func given(pairs ...any) []string {
	var names []string
	for i := 0; i < len(pairs); i += 2 {
		if !reflect.ValueOf(pairs[i+1]).IsZero() {
			names = append(names, pairs[i].(string))
		}
	}
	return names
}
