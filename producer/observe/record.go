package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// KindObserve is the run kind of `producer observe --record`: a run with observations and no load.
const KindObserve = "observe"

type recordOptions struct {
	name string
	tags map[string]string
}

// recordParameters is the run_started parameters object of an observe run: what was watched, how often.
type recordParameters struct {
	IntervalS float64  `json:"interval_s"`
	TimeoutS  float64  `json:"timeout_s"`
	Nodes     []string `json:"nodes"`
	Pgpool    bool     `json:"pgpool"`
}

// recordRun is `producer observe --record`: cfg's cluster is watched as a run of kind observe until ctx ends (an
// interrupt or --duration), every round shown by show and published in the run's sequence, the last one with the
// facts at the end and their change; run_finished says ok, or failed when the facts target could not be read at
// the start. The facts are Pgpool-II's (its primary, see noLoadBalance), else the first node's.
func recordRun(ctx context.Context, app *config.Config, cfg Config, opts recordOptions, show func(schema.Observation), stdout, stderr io.Writer) (exit int) {
	red := schema.NewRedactor(schema.EnvSecrets(os.Getenv)...)
	red.Add(app.Kafka.SASL.Password)
	red.Add(cfg.Secrets()...)
	stdout, stderr = red.Writer(stdout), red.Writer(stderr)

	target := cfg.Pgpool
	params := recordParameters{IntervalS: cfg.Interval.Seconds(), TimeoutS: cfg.Timeout.Seconds(), Nodes: []string{}, Pgpool: cfg.Pgpool != ""}
	for _, n := range cfg.Nodes {
		params.Nodes = append(params.Nodes, n.Name)
		if target == "" {
			target = n.DSN
		}
	}
	pj, _ := json.Marshal(params)
	started := schema.Started{Name: opts.name, Parameters: pj, Tools: hostinfo.Tools(nil), StartedAt: time.Now().UTC()}
	if tc, err := parseConn(target); err == nil {
		started.Target = schema.Target{Host: tc.Host, Port: int(tc.Port), Database: tc.Database}
	}

	rec, err := recorder.Open(ctx, app, prog, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	defer func() { exit = rec.Close(exit) }()
	started.Tags, started.Host = rec.Tags(opts.tags), rec.Host()
	rec.Begin(KindObserve, red.Started(started))
	fmt.Fprintf(stdout, "run %s: observing %s\n", rec.Run().ID(), strings.Join(append(params.Nodes, pgpoolWord(params.Pgpool)...), ", "))

	emit := func(o schema.Observation) {
		show(o)
		rec.Publish(red.Record(rec.Run().Observation(o)))
	}
	sess, err := StartSession(ctx, cfg, target, emit)
	if err != nil {
		msg := red.Text(strings.ReplaceAll(err.Error(), "\n", "; "))
		fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
		rec.Publish(rec.Run().Finished(schema.StatusFailed, msg, nil))
		return 1
	}
	<-ctx.Done()
	// Not ctx: the last round and the end facts must still see the nodes after an interrupt.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	last, sum, ferr := sess.Stop(sctx)
	emit(last)
	extra := NewExtra(sum, ferr, red)
	if ferr != nil {
		fmt.Fprintf(stderr, "%s: warning: %s\n", prog, extra.FactsError)
	}
	fmt.Fprintf(stdout, "run %s: %d rounds, %d events%s\n", rec.Run().ID(), extra.Rounds, len(extra.Events), flagWords(extra))
	rec.Publish(rec.Run().Finished(schema.StatusOK, "", nil))
	return 0
}

func pgpoolWord(on bool) []string {
	if on {
		return []string{"Pgpool-II"}
	}
	return nil
}

// flagWords says how the run is flagged, for its last line.
func flagWords(x *Extra) string {
	switch {
	case x.SplitBrain:
		return fmt.Sprintf("; split brain (%d primaries at once)", x.MaxPrimaries)
	case x.TopologyChanged:
		return "; the topology changed"
	}
	return ""
}
