package ingest

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/schema"
)

// A large batch is decoded on several goroutines (the histograms' inflating is most of the sink's CPU per sample)
// once the database waits for it, on one while a write is in flight, and on one then several when the write ends
// meanwhile; the batch must always be exactly what one goroutine makes: the same rows, sources, upserts,
// histograms and dead letters, in the same order.
func TestParallelDecodeIsSequentialDecode(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // a goroutine per chunk, whatever the machine
	cfg := config.Default()
	cfg.Sink.MaxRecordBytes = 8 << 10
	s := &Sink{cfg: &cfg, formats: map[string]string{"records": config.FormatBenchpipe}}

	runs := []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	wantDead := 0
	for i := range 3000 {
		run := runs[i%len(runs)]
		seq := int64(i/len(runs) + 1)
		kr := &kgo.Record{Topic: "records", Key: []byte(run.String()), Offset: int64(i)}
		switch {
		case i%500 == 7: // not a record
			kr.Value, wantDead = []byte("{not json"), wantDead+1
		case i%700 == 11: // too large
			kr.Value, wantDead = make([]byte, 9<<10), wantDead+1
		case i%900 == 13: // a topic without a decoder
			kr.Topic, kr.Value, wantDead = "elsewhere", []byte("{}"), wantDead+1
		case i%1000 == 0: // a run summary
			r := schema.Record{V: schema.Version, Type: schema.TypeRunStarted, RunID: run, Time: t0,
				Started: &schema.Started{Kind: schema.KindMQTT, StartedAt: t0, Target: schema.Target{URL: "tcp://broker:1883", Host: "broker", Port: 1883},
					Host: schema.Host{Hostname: "pi-7", OS: "Debian 12", Arch: "arm64", CPUCores: 4}}}
			kr.Value = mustEncode(t, r)
		default:
			h := schema.NewHist()
			for j := range 20 + i%60 {
				_ = h.RecordValue(int64(100 + j*(i%37+1)))
			}
			hdr, err := schema.EncodeHist(h)
			if err != nil {
				t.Fatal(err)
			}
			start := t0.Add(time.Duration(seq) * time.Second)
			ms := func(us int64) float64 { return float64(us) / 1000 }
			lat := &schema.Latency{MinMs: ms(h.Min()), MeanMs: ms(h.Min()), P50Ms: ms(h.ValueAtPercentile(50)), P90Ms: ms(h.ValueAtPercentile(90)),
				P95Ms: ms(h.ValueAtPercentile(95)), P99Ms: ms(h.ValueAtPercentile(99)), P999Ms: ms(h.ValueAtPercentile(99.9)), MaxMs: ms(h.Max()), HDR: hdr}
			r := schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: run, Seq: seq, Time: start.Add(time.Second),
				Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: schema.PhaseMeasure,
					Figures: schema.Figures{Ops: h.TotalCount(), OpsRate: float64(h.TotalCount()), Latency: lat}}}
			kr.Value = mustEncode(t, r)
		}
		recs = append(recs, kr)
	}

	seq := s.decodeRecords(recs)
	if len(seq.dead) != wantDead {
		t.Fatalf("%d dead letters, want %d: %v", len(seq.dead), wantDead, seq.dead[:min(3, len(seq.dead))])
	}
	if n := len(seq.hists); n != 3000-wantDead-3 {
		t.Fatalf("%d histograms, want %d", n, 3000-wantDead-3)
	}
	busy, writeEnds := context.WithCancel(context.Background())
	defer writeEnds()
	go func() { time.Sleep(5 * time.Millisecond); writeEnds() }()
	for _, d := range []struct {
		what   string
		dbBusy context.Context
	}{{"database waiting", nil}, {"write ending meanwhile", busy}, {"write in flight throughout", context.Background()}} {
		par := s.decode(recs, d.dbBusy)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"records", par.recs, seq.recs},
			{"consumed", par.consumed, seq.consumed},
			{"table order", par.order, seq.order},
			{"tables", par.tables, seq.tables},
			{"upserts", par.upserts, seq.upserts},
			{"histograms", par.hists, seq.hists},
			{"dead letters", par.dead, seq.dead},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s: %s differ between the chunked and the sequential decode", d.what, c.what)
			}
		}
	}
}

func mustEncode(t *testing.T, r schema.Record) []byte {
	t.Helper()
	v, err := schema.Encode(r)
	if err != nil {
		t.Fatal(fmt.Errorf("encode %s: %w", r.Type, err))
	}
	return v
}
