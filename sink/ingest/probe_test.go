package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("copy into samples: %w", &pgconn.PgError{Code: code}) }
	cases := []struct {
		name string
		err  error
		want failure
	}{
		{"invalid text (22P02)", pg("22P02"), refused},
		{"check violation (23514)", pg("23514"), refused},
		{"index row too large (54000)", pg("54000"), refused},
		{"value the encoder refused", &pgcopy.ValueError{Column: "ops", Err: errors.New("out of range")}, refused},
		{"trigger exception (P0001)", pg("P0001"), unknown},
		{"permission denied (42501)", pg("42501"), unknown},
		{"internal error (XX000)", pg("XX000"), unknown},
		{"connection failure (08006)", pg("08006"), unavailable},
		{"admin shutdown (57P01)", pg("57P01"), unavailable},
		{"cannot connect now (57P03)", pg("57P03"), unavailable},
		{"disk full (53100)", pg("53100"), unavailable},
		{"deadlock (40P01)", pg("40P01"), unavailable},
		{"read-only standby (25006)", pg("25006"), unavailable},
		{"lock not available (55P03)", pg("55P03"), unavailable},
		{"deadline", fmt.Errorf("write: %w", context.DeadlineExceeded), unavailable},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, unavailable},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("%s: classify = %d, want %d", c.name, got, c.want)
		}
	}
}

// A deadline reached while the probe waits on a row is no record's fault: the probe blames nobody and says why.
func TestProbeDoesNotBlameTheContext(t *testing.T) {
	_, brokers := testenv.Kafka(t)
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = testenv.DatabaseURL(t)
	ctx := context.Background()
	if err := Migrate(ctx, &cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, &cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := uuid.Must(uuid.NewV7())
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION public.slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.run_id = '%s' AND NEW.seq = 2 THEN PERFORM pg_sleep(3); END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER slow_row BEFORE INSERT ON public.samples FOR EACH ROW EXECUTE FUNCTION public.slow_row();`, id)); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	t0 := time.Now().UTC().Truncate(time.Second)
	for seq := int64(1); seq <= 3; seq++ {
		r := schema.Record{V: 1, Type: schema.TypeSample, RunID: id, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second),
			Sample: &schema.Sample{Start: t0.Add(time.Duration(seq-1) * time.Second), End: t0.Add(time.Duration(seq) * time.Second), Phase: schema.PhaseMeasure,
				Figures: schema.Figures{Ops: 10, OpsRate: 10}}}
		v, err := schema.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "benchpipe.records", Key: r.Key(), Value: v, Offset: seq - 1})
	}
	b := s.decode(recs, nil)
	if len(b.dead) != 0 || len(b.tables["samples"].rows) != 3 {
		t.Fatalf("test records did not decode: %v", b.dead)
	}
	for _, kind := range []failure{refused, unknown} {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		culprits, err := s.findRefusedRecords(pctx, b, kind)
		cancel()
		if len(culprits) != 0 {
			t.Errorf("kind %d: the probe blamed offset %d for its own deadline (%v)", kind, culprits[0].src.Offset, culprits[0].err)
		}
		if err == nil {
			t.Errorf("kind %d: the probe ran out of time without saying so", kind)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM public.samples").Scan(&n); err != nil || n != 0 {
		t.Errorf("the probe left %d rows (err %v), want 0: it is rolled back", n, err)
	}
}
