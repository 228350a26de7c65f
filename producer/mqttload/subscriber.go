package mqttload

import (
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/producer/stats"
)

// subscriber is one subscribing connection. paho calls onMessage for one message at a time in arrival order
// (OrderMatters), so the subscriber's sequence tracking sees exactly the order the broker delivered.
type subscriber struct {
	id     int
	name   string
	filter string
	client mqtt.Client
	shard  *stats.Shard
	b      *Bench

	streams map[uint32]*stream // by publisher; guarded by shard's lock (touched only inside shard.Update)
}

// onMessage measures one delivery: end-to-end latency from the intended and from the actual send time, and its
// place in its publisher's sequence (in order, gap, out of order, duplicate).
func (s *subscriber) onMessage(_ mqtt.Client, m mqtt.Message) {
	now := s.b.clk.now()
	payload := m.Payload()
	h, err := decodeHeader(payload)
	if err != nil || h.runTag != s.b.cfg.RunTag || int(h.pub) >= s.b.cfg.Publishers {
		s.b.foreign.Add(1)
		return
	}
	fresh := false
	// The message belongs to the phase it was scheduled in, whenever it arrives.
	measured := h.intended >= s.b.measureNs
	if f := s.b.onDelivery; f != nil {
		f(time.Duration(now-h.intended), time.Duration(now-h.sent), measured)
	}
	s.shard.Update(func(r *stats.Rec) {
		st := s.streams[h.pub]
		if st == nil {
			st = &stream{}
			s.streams[h.pub] = st
		}
		kind, gap := st.observe(h.seq)
		r.Add(cReceived, 1, measured)
		r.Add(cBytes, int64(len(payload)), measured)
		r.Observe(sCorrected, time.Duration(now-h.intended), measured)
		r.Observe(sUncorrected, time.Duration(now-h.sent), measured)
		switch kind {
		case inOrder:
			if gap > 0 {
				r.Add(cGaps, int64(gap), measured)
			}
		case outOfOrder:
			r.Add(cOutOfOrder, 1, measured)
		case duplicate:
			r.Add(cDuplicated, 1, measured)
		}
		fresh = kind != duplicate
	})
	if fresh {
		s.b.delivered.Add(1)
		for last := s.b.lastDelivery.Load(); now > last && !s.b.lastDelivery.CompareAndSwap(last, now); {
			last = s.b.lastDelivery.Load()
		}
	}
}
