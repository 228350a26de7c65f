package mqttload

import (
	"errors"
	"math"
	"time"

	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// perftoolResult shapes a run's measurement phase as one SINETStream perftool result line, so a site still
// running the SINETStream perftool server (Kafka Connect + its viewer) sees benchpipe runs too. perftool prints
// one line per thread and round; a benchpipe run is one round, and its publishers and subscribers are reported
// together as thread 0 (writer = all publishers, reader = all subscribers), so the line's totals and rates are the
// run summary's. name is the publisher name the perftool wrapper would add (see perftoolPublisher).
func perftoolResult(name string, res *Result, ec Config) sinetstream.Result {
	sum := res.Summary
	d := sum.End.Sub(sum.Start)
	size := int64(ec.Size)
	side := func(count, bytes, errs int64) *sinetstream.Side {
		start, end := float64(sum.Start.UnixMicro())/1e6, float64(sum.End.UnixMicro())/1e6
		return &sinetstream.Side{
			ThreadNumber: 0,
			StartTime:    start, StartTimeMillis: math.Round(start * 1000),
			EndTime: end, EndTimeMillis: math.Round(end * 1000),
			Time: d.Seconds(), TimeMillis: float64(d.Milliseconds()),
			MsgCountTotal: count, MsgCountRate: stats.Rate(count, d),
			MsgBytesTotal: bytes, MsgBytesRate: stats.Rate(bytes, d),
			MsgSizeMin: &size, MsgSizeMax: &size, MsgSizeAvg: float64(size),
			ErrorCountTotal: errs, ErrorCountRate: stats.Rate(errs, d),
		}
	}
	t := res.Totals
	return sinetstream.Result{
		Name:   name,
		Writer: side(t.Sent, t.Sent*size, t.PublishErrors),
		Reader: side(t.Received, t.Bytes, t.Disconnects),
	}
}

// publishPerftool spools the perftool-shaped result in SINETStream message format v3 for --perftool-compat.
func (r *mqttRun) publishPerftool(res *Result, ec Config) error {
	name, err := perftoolPublisher(r.Host())
	if err != nil {
		return err
	}
	payload, err := sinetstream.MarshalResult(perftoolResult(r.red.Text(name), res, ec))
	if err != nil {
		return err
	}
	return r.PublishRaw(r.spec.PerftoolCompat, sinetstream.EncodeV3(time.Now(), payload))
}

// perftoolPublisher is the "name" a perftool result carries: the client that measured, as the SINETStream perftool
// wrapper names each client's results, so that the perftool views (one line per publisher, summed over its
// threads) break a site's results down by device. It is the run's host name (producer.device when set, else the
// machine's), the name the viewer lists the run's device under. Not the run's --name: every run would become a
// publisher of its own, and a device's results would never line up over time.
func perftoolPublisher(h schema.Host) (string, error) {
	if h.Hostname == "" {
		return "", errors.New("no publisher name for the perftool result: the host name is unknown; set producer.device")
	}
	return h.Hostname, nil
}
