package mqttload

import (
	"context"
	"math"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/producer/stats"
)

// publisher is one publishing connection. It sends on an absolute schedule (wrk2's approach): message n of the
// run is due at start + n/rate, whatever happened before. When the broker stalls, the publisher falls behind and
// then sends what is overdue back to back, never skipping; each message carries its intended send time, so the
// stall shows in the corrected latency of every message it delayed, not only the one that was in flight.
type publisher struct {
	id     int
	name   string
	topic  string
	client mqtt.Client
	shard  *stats.Shard
	limit  uint64 // messages to send; 0 = until the schedule ends
	idle   bool   // --count left this publisher nothing to send

	// Written by run and its acknowledger; read once run has returned.
	issued    uint64   // sequence numbers 0 … issued-1 were handed to the client
	measureAt uint64   // first sequence number due in the measurement phase
	failed    []uint64 // ascending
	firstErr  error
}

type inflightPub struct {
	seq      uint64
	tok      mqtt.Token
	measured bool // scheduled in the measurement phase
}

// run publishes until the schedule ends, the limit is reached or ctx ends, then waits for the acknowledger.
//
// paho has no limit on unconfirmed publishes, so run keeps its own window: it takes a slot before publishing
// and the acknowledger frees it when paho confirms the publish (written for QoS 0, PUBACK for 1, PUBCOMP for 2).
func (p *publisher) run(ctx context.Context, b *Bench) {
	cfg := &b.cfg
	slots := make(chan struct{}, cfg.Inflight)
	pending := make(chan inflightPub, cfg.Inflight) // never blocks: slots admits at most Inflight
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		p.acknowledge(b, pending, slots)
	}()
	p.measureAt = math.MaxUint64
	defer func() {
		close(pending)
		<-ackDone
		if p.measureAt == math.MaxUint64 {
			p.measureAt = p.issued
		}
	}()

	var timer *time.Timer
	nPubs := uint64(cfg.Publishers)
	for seq := uint64(0); p.limit == 0 || seq < p.limit; seq++ {
		var intended int64
		if cfg.Rate > 0 {
			// Publishers interleave: together they send message k of the run at k/rate.
			intended = b.startNs + int64(float64(seq*nPubs+uint64(p.id))*1e9/cfg.Rate)
			if b.endNs > 0 && intended >= b.endNs {
				return
			}
			if wait := time.Duration(intended - b.clk.now()); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
		} else {
			select {
			case <-ctx.Done():
				return
			default:
			}
			intended = b.clk.now()
			if b.endNs > 0 && intended >= b.endNs {
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if p.measureAt == math.MaxUint64 && intended >= b.measureNs {
			p.measureAt = seq
		}
		payload := make([]byte, cfg.Size) // paho keeps it until the publish is confirmed
		h := header{runTag: cfg.RunTag, pub: uint32(p.id), seq: seq, intended: intended, sent: b.clk.now()}
		h.encode(payload)
		tok := p.client.Publish(p.topic, cfg.QoS, cfg.Retain, payload)
		p.issued = seq + 1
		pending <- inflightPub{seq: seq, tok: tok, measured: intended >= b.measureNs}
	}
}

// acknowledge waits for each publish in order, counts it sent or failed, and frees its window slot.
func (p *publisher) acknowledge(b *Bench, pending <-chan inflightPub, slots <-chan struct{}) {
	for f := range pending {
		var err error
		select {
		case <-f.tok.Done():
			err = f.tok.Error()
		case <-b.abandon:
			select {
			case <-f.tok.Done():
				err = f.tok.Error()
			default:
				err = errUnconfirmed
			}
		}
		if err != nil {
			p.failed = append(p.failed, f.seq)
			if p.firstErr == nil {
				p.firstErr = err
			}
			p.shard.Update(func(r *stats.Rec) {
				r.Add(cErrors, 1, f.measured)
				r.Add(cPublishErrors, 1, f.measured)
			})
		} else {
			p.shard.Add(cSent, 1, f.measured)
		}
		<-slots
	}
}
