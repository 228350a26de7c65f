package observe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/schema"
)

// Defaults of Config.
const (
	DefaultInterval = time.Second
	// DefaultTimeout leaves room in a 1 s round: a node that has not answered by then is down for this round, so
	// an unreachable node is an event within the 2 s the issue asks for even when it hangs rather than refuses.
	DefaultTimeout = 800 * time.Millisecond
)

// Node is one PostgreSQL server to observe, by a name of the user's choosing and a connection string (URI or
// key=value; a password may be in it or come from PGPASSWORD or ~/.pgpass).
type Node struct {
	Name string
	DSN  string
}

// Config says what to observe and how often.
type Config struct {
	Nodes    []Node
	Pgpool   string        // connection string of Pgpool-II's SQL port; "" for none
	Interval time.Duration // between rounds; 0 = DefaultInterval
	Timeout  time.Duration // for each probe of a round; 0 = DefaultTimeout; must be below Interval
}

// FromConfig is the configuration file's cluster (producer.pgbench.observe) as a Config: nodes in name order, the
// order they appear in every observation.
func FromConfig(c config.Observe) Config {
	cfg := Config{Pgpool: c.Pgpool, Interval: c.Interval, Timeout: c.Timeout}
	for _, name := range c.NodeNames() {
		cfg.Nodes = append(cfg.Nodes, Node{Name: name, DSN: c.Nodes[name]})
	}
	return cfg
}

// Observer probes a cluster in rounds. It is not safe for concurrent use: one goroutine calls Round or Run.
type Observer struct {
	interval, timeout time.Duration
	nodes             []*nodeProbe
	pool              *poolProbe
	det               *detector
}

// New checks cfg and prepares the probes; it connects to nothing yet. Errors name the problem without the
// connection string's credentials.
func New(cfg Config) (*Observer, error) {
	o := &Observer{interval: cfg.Interval, timeout: cfg.Timeout, det: newDetector()}
	if o.interval == 0 {
		o.interval = DefaultInterval
	}
	if o.timeout == 0 {
		o.timeout = min(DefaultTimeout, o.interval*8/10)
	}
	var errs []error
	if o.interval < 0 || o.timeout < 0 {
		errs = append(errs, errors.New("interval and timeout must not be negative"))
	}
	if o.timeout >= o.interval {
		errs = append(errs, fmt.Errorf("the probe timeout (%s) must be shorter than the interval (%s)", o.timeout, o.interval))
	}
	if len(cfg.Nodes) == 0 && cfg.Pgpool == "" {
		errs = append(errs, errors.New("nothing to observe: give at least one node or a Pgpool-II"))
	}
	names := map[string]bool{}
	for i, n := range cfg.Nodes {
		if n.Name == "" {
			errs = append(errs, fmt.Errorf("node %d has no name", i+1))
			continue
		}
		if names[n.Name] {
			errs = append(errs, fmt.Errorf("node name %q given twice", n.Name))
		}
		names[n.Name] = true
		p, err := newNodeProbe(n.Name, n.DSN)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.nodes = append(o.nodes, p)
	}
	if cfg.Pgpool != "" {
		p, err := newPoolProbe(cfg.Pgpool)
		if err != nil {
			errs = append(errs, err)
		}
		o.pool = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return o, nil
}

// Interval returns the time between rounds.
func (o *Observer) Interval() time.Duration { return o.interval }

// Round probes every node and Pgpool at once, each within the probe timeout, and returns what they answered with
// the events since the previous round.
func (o *Observer) Round(ctx context.Context) schema.Observation {
	obs := schema.Observation{Format: schema.ObservationFormat, Time: time.Now().UTC()}
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	results := make([]nodeResult, len(o.nodes))
	var wg sync.WaitGroup
	for i, p := range o.nodes {
		wg.Go(func() { results[i] = p.probe(pctx) })
	}
	var poolErr error
	if o.pool != nil {
		wg.Go(func() { obs.Pool, poolErr = o.pool.probe(pctx) })
	}
	wg.Wait()
	if poolErr != nil {
		obs.PoolError = describe(poolErr)
	}
	obs.Nodes = make([]schema.NodeSample, len(results))
	for i, r := range results {
		obs.Nodes[i] = r.sample
	}
	fillLag(obs.Nodes, results)
	byAddr := map[string]string{}
	for _, p := range o.nodes {
		byAddr[p.addr] = p.name
	}
	for i := range obs.Pool {
		obs.Pool[i].Node = byAddr[obs.Pool[i].Addr]
	}
	o.det.step(&obs)
	return obs
}

// fillLag sets each standby's lag in bytes: how far its replay position is behind its upstream primary's current
// position, both read in this round. The upstream is the observed primary at the address the standby's walreceiver
// reports; when that address is not an observed node (a name instead of an address, a proxy), the only primary
// of the round if there is exactly one. Otherwise the lag is unknown and stays nil.
func fillLag(nodes []schema.NodeSample, results []nodeResult) {
	var primaries []int
	byAddr := map[string]int{}
	for i, r := range results {
		if r.sample.Up && r.sample.Role == schema.RolePrimary {
			primaries = append(primaries, i)
			byAddr[r.sample.Addr] = i
		}
	}
	for i, r := range results {
		if !r.sample.Up || r.sample.Role != schema.RoleStandby || r.sample.WALLSN == "" {
			continue
		}
		up, ok := byAddr[r.upstream]
		if !ok && len(primaries) == 1 {
			up, ok = primaries[0], true
		}
		if !ok {
			continue
		}
		lag := int64(0)
		if p := results[up].lsn; p > r.lsn {
			lag = int64(p - r.lsn)
		}
		nodes[i].LagBytes = &lag
	}
}

// Run calls Round every interval until ctx ends, handing each observation to fn in Run's goroutine, and closes
// the connections when it returns. The first round is at once. A round that takes longer than the interval (it
// cannot: probes time out before) would skip ticks rather than queue them.
func (o *Observer) Run(ctx context.Context, fn func(schema.Observation)) error {
	defer o.Close()
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		obs := o.Round(ctx)
		if ctx.Err() != nil {
			return nil // the round was cut short: its nodes are not down, the observer is stopping
		}
		fn(obs)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close closes the observer's connections. Round may be called again afterwards: it reconnects.
func (o *Observer) Close() {
	for _, p := range o.nodes {
		p.close()
	}
	if o.pool != nil {
		o.pool.close()
	}
}
