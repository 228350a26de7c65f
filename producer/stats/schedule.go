package stats

import (
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// Schedule says when a run's intervals end and which phase each belongs to. Intervals are Interval long,
// counted from Start, except that one always ends exactly when the warm-up does, so that no interval mixes
// warm-up and measurement.
type Schedule struct {
	Start    time.Time
	Warmup   time.Duration
	Interval time.Duration // 0 means one second
}

func (s Schedule) step() time.Duration {
	if s.Interval <= 0 {
		return time.Second
	}
	return s.Interval
}

// MeasureStart is when the warm-up ends and the measurement begins.
func (s Schedule) MeasureStart() time.Time { return s.Start.Add(max(s.Warmup, 0)) }

// Next returns the end of the interval open at t: the first interval boundary strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	step := s.step()
	elapsed := t.Sub(s.Start)
	if elapsed < 0 {
		return s.Start.Add(step)
	}
	next := s.Start.Add((elapsed/step + 1) * step)
	if ms := s.MeasureStart(); t.Before(ms) && ms.Before(next) {
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
