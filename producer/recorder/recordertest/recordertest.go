// Package recordertest helps the tests of the producer's run commands with what happens to a run's records: a
// spool that is full, and the final outcome a --summary-json file tells.
package recordertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/recorder"
)

// FillSpool fills the spool of the configuration at cfgPath until a publisher opened on it refuses even a value of
// a few bytes. The configuration's Kafka must not be there (nothing listening at kafka.brokers), so the values
// stay, and its producer.spool_max_bytes should be small (1MiB, the least allowed). Every record of the next run
// is then refused with "spool is full" but run_finished, which may use the space the spool keeps for it.
func FillSpool(t testing.TB, cfgPath string) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// The space a round frees (pages its last commit released) is filled by the next, until none is left.
	for round := 0; ; round++ {
		if round == 20 {
			t.Fatalf("the spool still takes values after %d rounds", round)
		}
		p, err := publish.Open(context.Background(), cfg, publish.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, size := range []int{64 << 10, 4 << 10, 256, 16} {
			for {
				err := p.PublishRaw(context.Background(), "prefill", []byte("k"), make([]byte, size), time.Now())
				if errors.Is(err, publish.ErrSpoolFull) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				stored++
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err = p.Close(ctx) // the values stay: Kafka is not there
		cancel()
		if err != nil && !errors.Is(err, publish.ErrUndelivered) {
			t.Fatal(err)
		}
		if stored == 0 {
			return
		}
	}
}

// ReadFinal reads the run's final outcome from a --summary-json file, whose status, exit_code and
// records_not_saved must be there, zero or not.
func ReadFinal(t testing.TB, path string) recorder.Final {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	for _, k := range []string{"status", "exit_code", "records_not_saved"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("%s has no %q:\n%s", path, k, b)
		}
	}
	var f recorder.Final
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}
