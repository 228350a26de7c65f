package observe

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
)

// Session observes a cluster for the length of one benchmark run: the piece a load producer (pgbench --observe)
// runs beside its load. StartSession reads the server facts of the run's target and starts the rounds; every
// round goes to emit, the first one carrying the facts; Stop ends the rounds and returns the last observation,
// carrying the facts at the end with their change over the run, and what the run should be flagged with.
//
// emit is called from the session's goroutine, one observation at a time and in order; it must not block for
// long (a round a second), so a producer hands the observation to its spool or channel and returns.
type Session struct {
	obs    *Observer
	target *pgx.Conn
	start  schema.ServerFacts
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	summary Summary
	last    schema.Observation
}

// Summary is what a run's observation amounts to, for its run_finished record and the run list's flag.
type Summary struct {
	Rounds          int
	TopologyChanged bool                  // an event that flags the run happened (schema.FlagsRun)
	SplitBrain      bool                  // two or more primaries were seen at once
	MaxPrimaries    int                   // the most primaries seen in one round
	Events          []schema.ClusterEvent // every event, in order
}

// StartSession connects to target (the database the run measures: a node, or Pgpool-II, through which the facts'
// queries are marked not to be load-balanced, so they read the primary) and reads its facts, then starts observing
// cfg's cluster. The first observation, with the facts, is emitted before StartSession returns, so the run's
// record stream has the cluster's state before the load begins.
func StartSession(ctx context.Context, cfg Config, target string, emit func(schema.Observation)) (*Session, error) {
	o, err := New(cfg)
	if err != nil {
		return nil, err
	}
	tcfg, err := parseConn(target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, tcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the target for its server facts: %s", describe(err))
	}
	start, err := ReadFacts(ctx, noLoadBalance{conn})
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("target: %s", describe(err))
	}
	s := &Session{obs: o, target: conn, start: start, done: make(chan struct{})}
	first := o.Round(ctx)
	first.Server = &s.start
	s.record(first)
	emit(first)

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		skipFirst := true
		_ = o.Run(rctx, func(ob schema.Observation) {
			if skipFirst { // Run's immediate round: the first one was just made above
				skipFirst = false
				return
			}
			s.record(ob)
			emit(ob)
		})
	}()
	return s, nil
}

func (s *Session) record(o schema.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.summary.Rounds++
	s.summary.MaxPrimaries = max(s.summary.MaxPrimaries, o.Primaries)
	for _, e := range o.Events {
		s.summary.Events = append(s.summary.Events, e)
		if schema.FlagsRun(e.Kind) {
			s.summary.TopologyChanged = true
		}
		if e.Kind == schema.EventSplitBrain {
			s.summary.SplitBrain = true
		}
	}
	s.last = o
}

// Stop ends the rounds, makes a last one carrying the target's facts now and their change since the start, and
// returns it (not emitted: the caller publishes it, before its run_finished record) with the run's summary.
// When the facts cannot be read at the end (the target went down), the observation has none and err says why;
// the observation and summary are valid all the same.
func (s *Session) Stop(ctx context.Context) (schema.Observation, Summary, error) {
	s.cancel()
	<-s.done
	defer s.target.Close(context.Background())
	last := s.obs.Round(ctx)
	s.record(last)
	s.obs.Close()
	end, err := ReadFacts(ctx, noLoadBalance{s.target})
	if err == nil {
		end.Delta = Delta(s.start, end)
		last.Server = &end
	} else {
		err = fmt.Errorf("server facts at the end of the run: %s", describe(err))
	}
	s.mu.Lock()
	sum := s.summary
	sum.Events = slices.Clone(sum.Events)
	s.mu.Unlock()
	return last, sum, err
}

// noLoadBalance prefixes every query with Pgpool-II's /*NO LOAD BALANCE*/ comment, which sends it to the primary:
// the facts of a run are the primary's, whichever standby Pgpool would pick. Servers without Pgpool ignore it.
type noLoadBalance struct{ q Querier }

const noLoadBalanceHint = "/*NO LOAD BALANCE*/ "

func (n noLoadBalance) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return n.q.Query(ctx, noLoadBalanceHint+sql, args...)
}

func (n noLoadBalance) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return n.q.QueryRow(ctx, noLoadBalanceHint+sql, args...)
}
