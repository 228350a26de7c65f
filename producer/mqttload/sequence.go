package mqttload

import "sort"

// arrival classifies one received message of a stream (one publisher as seen by one subscriber).
type arrival int

const (
	inOrder    arrival = iota // the next sequence number, or a jump ahead (gap > 0)
	outOfOrder                // an earlier sequence number that was missing
	duplicate                 // a sequence number already received
)

// seqRange is the half-open range [lo, hi) of sequence numbers.
type seqRange struct{ lo, hi uint64 }

// stream tracks the sequence numbers one subscriber received from one publisher. Missing numbers are kept as
// ranges, so a subscriber that joins after a million messages costs one range, not a million entries.
//
// A stream is not safe for concurrent use; its subscriber serialises access.
type stream struct {
	next     uint64     // one past the highest sequence number received
	missing  []seqRange // below next and not received, ascending and disjoint
	nMissing uint64     // total length of missing
	unique   uint64     // distinct sequence numbers received
}

// observe records the arrival of seq. For an in-order arrival gap is how many numbers it skipped (and that are
// now missing).
func (s *stream) observe(seq uint64) (kind arrival, gap uint64) {
	switch {
	case seq >= s.next:
		if seq > s.next {
			gap = seq - s.next
			s.missing = append(s.missing, seqRange{s.next, seq})
			s.nMissing += gap
		}
		s.next = seq + 1
		s.unique++
		return inOrder, gap
	case s.fill(seq):
		s.unique++
		return outOfOrder, 0
	default:
		return duplicate, 0
	}
}

// fill removes seq from the missing ranges and reports whether it was missing.
func (s *stream) fill(seq uint64) bool {
	i := sort.Search(len(s.missing), func(i int) bool { return s.missing[i].hi > seq })
	if i == len(s.missing) || s.missing[i].lo > seq {
		return false
	}
	r := s.missing[i]
	switch {
	case r.lo == seq && r.hi == seq+1:
		s.missing = append(s.missing[:i], s.missing[i+1:]...)
	case r.lo == seq:
		s.missing[i].lo++
	case r.hi == seq+1:
		s.missing[i].hi--
	default: // split
		s.missing = append(s.missing, seqRange{})
		copy(s.missing[i+2:], s.missing[i+1:])
		s.missing[i] = seqRange{r.lo, seq}
		s.missing[i+1] = seqRange{seq + 1, r.hi}
	}
	s.nMissing--
	return true
}

// received reports whether seq has arrived.
func (s *stream) received(seq uint64) bool {
	if seq >= s.next {
		return false
	}
	i := sort.Search(len(s.missing), func(i int) bool { return s.missing[i].hi > seq })
	return i == len(s.missing) || s.missing[i].lo > seq
}

// pubOutcome is what a publisher knows at the end of a run about the messages it published.
type pubOutcome struct {
	issued    uint64   // sequence numbers 0 … issued-1 were handed to the client
	failed    []uint64 // of those, the ones whose publish failed (ascending): not expected anywhere
	measureAt uint64   // first sequence number scheduled in the measurement phase; earlier ones are warm-up
}

// streamLoss is the final account of one stream.
type streamLoss struct {
	lost        uint64 // published successfully, in the measurement phase, never received
	unconfirmed uint64 // in the measurement phase: received although the publisher saw its publish fail (e.g. the PUBACK was lost)
}

// account compares what the stream received with what its publisher published successfully. Loss is counted
// for messages scheduled in the measurement phase (seq ≥ measureAt); a warm-up message never received is
// warm-up loss and stays out of the run's totals, as its sample already showed the gap.
func (s *stream) account(p pubOutcome) streamLoss {
	var out streamLoss
	notReceived := func(lo, hi uint64) { // count [lo, hi) ∩ [measureAt, issued) minus failed publishes
		lo, hi = max(lo, p.measureAt), min(hi, p.issued)
		if lo >= hi {
			return
		}
		n := hi - lo
		i := sort.Search(len(p.failed), func(i int) bool { return p.failed[i] >= lo })
		for ; i < len(p.failed) && p.failed[i] < hi; i++ {
			n--
		}
		out.lost += n
	}
	for _, r := range s.missing {
		notReceived(r.lo, r.hi)
	}
	notReceived(s.next, p.issued) // the tail: published after the last message that arrived
	for _, f := range p.failed {
		if f >= p.measureAt && s.received(f) {
			out.unconfirmed++
		}
	}
	return out
}
