package stats

import (
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// Schedule says when a run's intervals end and which phase each belongs to. The measurement's intervals are
// whole: Interval long, counted from the end of the warm-up. The warm-up's are counted from Start, and its last
// one ends exactly when the warm-up does, absorbing a remainder shorter than an interval (it is then up to two
// intervals long): no interval mixes warm-up and measurement, and none is shorter than Interval, so a rate is
// never taken over a sliver (a warm-up shorter than one interval is the exception: it is one interval).
type Schedule struct {
	Start    time.Time
	Warmup   time.Duration
	Interval time.Duration // 0 means one second
}

// Step is the interval length.
func (s Schedule) Step() time.Duration {
	if s.Interval <= 0 {
		return time.Second
	}
	return s.Interval
}

// MeasureStart is when the warm-up ends and the measurement begins.
func (s Schedule) MeasureStart() time.Time { return s.Start.Add(max(s.Warmup, 0)) }

// Next returns the end of the interval open at t: the first interval boundary strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	step := s.Step()
	ms := s.MeasureStart()
	if !t.Before(ms) {
		return ms.Add((t.Sub(ms)/step + 1) * step)
	}
	next := s.Start.Add(step)
	if elapsed := t.Sub(s.Start); elapsed >= 0 {
		next = s.Start.Add((elapsed/step + 1) * step)
	}
	if ms.Sub(next) < step { // the warm-up's last interval: it ends with the warm-up
		return ms
	}
	return next
}

// Phase returns the phase of the interval that ends at end (a value Next returned): warm-up when it ends at or
// before MeasureStart.
func (s Schedule) Phase(end time.Time) schema.Phase {
	if s.Warmup > 0 && !end.After(s.MeasureStart()) {
		return schema.PhaseWarmup
	}
	return schema.PhaseMeasure
}

// WarmupLeft returns how much of the warm-up remains at t (0 once measuring).
func (s Schedule) WarmupLeft(t time.Time) time.Duration {
	return max(s.MeasureStart().Sub(t), 0)
}
