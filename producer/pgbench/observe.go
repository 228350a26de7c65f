package pgbench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
)

// This file is --observe: the cluster named in producer.pgbench.observe is watched while the load runs
// (observe.Session), each round is published as an observation record in the run's sequence next to the samples,
// and what the rounds amount to goes into run_finished's Summary.Extra.observation. It is apart from Run so that
// Run only starts it, stops it and hands its summary on.

// stopTimeout bounds the last round and the reading of the end facts: the run's record must not wait on a
// cluster that stopped answering.
const stopTimeout = 10 * time.Second

// observeConfig turns the configuration's cluster into the observer's, nodes in name order, and checks it the way
// the observer will (connection strings that pgx cannot read are named here, before anything runs). The error is
// one line, for a usage error.
func observeConfig(c *config.Config) (observe.Config, error) {
	oc := c.Producer.Pgbench.Observe
	if !oc.Configured() {
		where := "the configuration"
		if c.File != "" {
			where = c.File
		}
		return observe.Config{}, cli.Errorf("--observe needs a cluster to observe: set producer.pgbench.observe.nodes (NAME: connection string) and/or .pgpool in %s", where)
	}
	cfg := observe.FromConfig(oc)
	if _, err := observe.New(cfg); err != nil {
		return observe.Config{}, cli.Errorf("producer.pgbench.observe: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cfg, nil
}

// clusterWatch is one run's observation.
type clusterWatch struct {
	r     *pgRun
	sess  *observe.Session
	extra *observe.Extra
}

// startWatch reads the target's server facts and starts observing cfg's cluster; the first observation is
// published before it returns, so the run's records have the cluster as the load found it. Events are printed
// on stderr as they are seen. A target that cannot be reached fails the run before the load starts; a node that
// cannot is an event of the run.
func (r *pgRun) startWatch(ctx context.Context, cfg observe.Config, conn connSettings) (*clusterWatch, error) {
	w := &clusterWatch{r: r}
	sess, err := observe.StartSession(ctx, cfg, conn.String(), w.emit)
	if err != nil {
		return nil, fmt.Errorf("--observe: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	w.sess = sess
	return w, nil
}

// emit publishes one observation and prints its events. It runs in the session's goroutine.
func (w *clusterWatch) emit(o schema.Observation) {
	w.r.publishInOrder(func() schema.Record { return w.r.red.Record(w.r.Run().Observation(o)) })
	for _, e := range o.Events {
		fmt.Fprintf(w.r.stderr, "producer pgbench: cluster: %s\n", observe.FormatEvent(e))
	}
}

// stop ends the observation after the load: its last round, with the facts at the end and their change over the
// run, is published (before run_finished, which the caller makes next), and the summary is returned for
// Summary.Extra. A nil watch (no --observe) returns nil.
func (w *clusterWatch) stop(ctx context.Context) *observe.Extra {
	if w == nil {
		return nil
	}
	// Not the run's ctx: after Ctrl-C the last round must still see the nodes, not a cancelled context.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	last, sum, err := w.sess.Stop(ctx)
	w.emit(last)
	w.extra = observe.NewExtra(sum, err, w.r.red)
	if err != nil {
		fmt.Fprintf(w.r.stderr, "producer pgbench: warning: %s\n", w.extra.FactsError)
	}
	return w.extra
}

// warn prints, at the very end of the run, one line saying the cluster changed under the load and how, so that
// nobody reads its figures as a steady cluster's. Nothing when it did not (or without --observe).
func (w *clusterWatch) warn(out io.Writer) {
	if w == nil || w.extra == nil || !w.extra.TopologyChanged {
		return
	}
	fmt.Fprintln(out, topologyWarning(w.extra))
}

// topologyWarning is the end-of-run line for a run whose cluster changed: the events that flag it, at most five.
func topologyWarning(x *observe.Extra) string {
	var what []string
	n := 0
	for _, e := range x.Events {
		if !schema.FlagsRun(e.Kind) {
			continue
		}
		n++
		if len(what) < 5 {
			what = append(what, observe.FormatEvent(e))
		}
	}
	if n > len(what) {
		what = append(what, fmt.Sprintf("and %d more", n-len(what)))
	}
	head := "the cluster's topology changed during the run"
	if x.SplitBrain {
		head = fmt.Sprintf("split brain during the run (%d primaries at once)", x.MaxPrimaries)
	}
	return fmt.Sprintf("producer pgbench: warning: %s: %s; the figures are not a steady cluster's", head, strings.Join(what, "; "))
}

// publishInOrder makes a record and queues it under one lock: the sampler and the observer both number records
// in the run's sequence, and without the lock a sample could take seq n+1 and reach the spool before the
// observation holding n.
func (r *pgRun) publishInOrder(mk func() schema.Record) {
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	r.Publish(mk())
}
