package mqttload

import (
	"strings"
	"testing"
	"time"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := header{runTag: 0x0102030405060708, pub: 7, seq: 1 << 40, intended: time.Now().UnixNano(), sent: time.Now().UnixNano() + 5}
	b := make([]byte, 100)
	h.encode(b)
	got, err := decodeHeader(b)
	if err != nil || got != h {
		t.Fatalf("got %+v, %v; want %+v", got, err, h)
	}
	for _, bad := range [][]byte{nil, b[:HeaderSize-1], []byte(strings.Repeat("x", 100))} {
		if _, err := decodeHeader(bad); err == nil {
			t.Errorf("decodeHeader(%q) accepted", bad)
		}
	}
}

func TestStreamObserve(t *testing.T) {
	type step struct {
		seq  uint64
		kind arrival
		gap  uint64
	}
	for _, tc := range []struct {
		name        string
		steps       []step
		missing     uint64
		unique      uint64
		outcome     pubOutcome
		lost, uncon uint64
	}{
		{"in order", []step{{0, inOrder, 0}, {1, inOrder, 0}, {2, inOrder, 0}}, 0, 3,
			pubOutcome{issued: 3}, 0, 0},
		{"late joiner and a tail", []step{{5, inOrder, 5}, {6, inOrder, 0}}, 5, 2,
			pubOutcome{issued: 9}, 5 + 2, 0},
		{"gap filled out of order", []step{{0, inOrder, 0}, {3, inOrder, 2}, {2, outOfOrder, 0}, {1, outOfOrder, 0}}, 0, 4,
			pubOutcome{issued: 4}, 0, 0},
		{"split a range", []step{{10, inOrder, 10}, {5, outOfOrder, 0}, {5, duplicate, 0}, {0, outOfOrder, 0}, {9, outOfOrder, 0}}, 7, 4,
			pubOutcome{issued: 11}, 7, 0},
		{"duplicates", []step{{0, inOrder, 0}, {0, duplicate, 0}, {1, inOrder, 0}, {0, duplicate, 0}}, 0, 2,
			pubOutcome{issued: 2}, 0, 0},
		{"failed publishes are not lost", []step{{0, inOrder, 0}, {4, inOrder, 3}}, 3, 2,
			pubOutcome{issued: 6, failed: []uint64{2, 4, 5}}, 2 /* 1, 3 */, 1 /* 4 arrived though it failed */},
		{"warm-up loss excluded", []step{{3, inOrder, 3}, {7, inOrder, 3}}, 6, 2,
			pubOutcome{issued: 8, measureAt: 5}, 2 /* 5, 6 */, 0},
		{"nothing received", nil, 0, 0, pubOutcome{issued: 100, failed: []uint64{99}}, 99, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s stream
			for i, st := range tc.steps {
				k, g := s.observe(st.seq)
				if k != st.kind || g != st.gap {
					t.Fatalf("step %d seq %d: got kind %d gap %d, want %d %d", i, st.seq, k, g, st.kind, st.gap)
				}
			}
			if s.nMissing != tc.missing || s.unique != tc.unique {
				t.Fatalf("missing %d unique %d, want %d %d (ranges %v)", s.nMissing, s.unique, tc.missing, tc.unique, s.missing)
			}
			var sum uint64
			for _, r := range s.missing {
				sum += r.hi - r.lo
			}
			if sum != s.nMissing {
				t.Fatalf("ranges %v sum to %d, nMissing %d", s.missing, sum, s.nMissing)
			}
			l := s.account(tc.outcome)
			if l.lost != tc.lost || l.unconfirmed != tc.uncon {
				t.Fatalf("account: lost %d unconfirmed %d, want %d %d", l.lost, l.unconfirmed, tc.lost, tc.uncon)
			}
		})
	}
}

func TestStreamLargeGapIsCheap(t *testing.T) {
	var s stream
	s.observe(1 << 40)
	if len(s.missing) != 1 || s.nMissing != 1<<40 {
		t.Fatalf("%v %d", s.missing, s.nMissing)
	}
}

func TestTopics(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false}, {"a/#", "a/b/c", true},
		{"a/#", "a", true}, {"#", "x/y", true}, {"+/+", "a", false}, {"a/b", "a/c", false}, {"a/+/c", "a/x/c", true},
	} {
		if got := topicMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("topicMatches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
	if expandTopic("bench/{id}/x", 12) != "bench/12/x" {
		t.Fatal("expandTopic")
	}
	for _, f := range []string{"a/#/b", "a+/b", "", "a/b#"} {
		if checkTopicFilter(f) == nil {
			t.Errorf("filter %q accepted", f)
		}
	}
	for _, n := range []string{"a/+", "a/#", ""} {
		if checkTopicName(n) == nil {
			t.Errorf("topic %q accepted", n)
		}
	}
}

func TestConfigMatchingAndWarnings(t *testing.T) {
	pairs := Config{Broker: "tcp://x:1", Publishers: 3, Subscribers: 3, Topic: "b/{id}"}.withDefaults()
	for j := 0; j < 3; j++ {
		if m := pairs.matchedPublishers(j); len(m) != 1 || m[0] != j {
			t.Fatalf("pairs: subscriber %d matches %v", j, m)
		}
	}
	fanIn := Config{Broker: "tcp://x:1", Publishers: 4, Subscribers: 1, Topic: "b/all"}.withDefaults()
	if m := fanIn.matchedPublishers(0); len(m) != 4 {
		t.Fatalf("fan-in: %v", m)
	}
	wild := Config{Broker: "tcp://x:1", Publishers: 4, Subscribers: 2, Topic: "b/{id}", SubscribeTopic: "b/+"}.withDefaults()
	if m := wild.matchedPublishers(1); len(m) != 4 {
		t.Fatalf("wildcard: %v", m)
	}
	if w := (Config{Broker: "tcp://x:1", Publishers: 1, Subscribers: 2, Topic: "b/{id}"}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "1 of 2 subscribers") {
		t.Fatalf("warnings %v", w)
	}
	if w := (Config{Broker: "tcp://x:1", Publishers: 3, Subscribers: 2, Topic: "b/{id}"}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "1 of 3 publishers") {
		t.Fatalf("warnings %v", w)
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	err := Config{Broker: "http://x", Publishers: -1, QoS: 3, Size: 10, Rate: -1, Inflight: 70000, Topic: "a/+"}.withDefaults().validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"scheme", "publishers", "qos", "size must be ≥ 40", "rate", "inflight", "wildcards"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
