package compare

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// What the external tests (package compare_test) use of the internal test helpers. They exist because those
// tests run real load commands: producer/mqttload imports this package (through producer/recorder's
// --compare-with), so only an external test package may import it.

// TestPipeline is the env of helpers_test.go: kfake, the real sink, PostgreSQL and the Hasura stand-in.
type TestPipeline struct {
	e *env
	// Brokers are kfake's; a producer configured with them publishes into the pipeline.
	Brokers []string
	// ConfigFile points graphql.url at the stand-in.
	ConfigFile string
}

// NewTestPipeline builds a pipeline for t.
func NewTestPipeline(t *testing.T) *TestPipeline {
	e := newEnv(t)
	return &TestPipeline{e: e, Brokers: e.brokers, ConfigFile: e.cfgFile}
}

// WaitFinished waits until the run's row has a final status and returns it.
func (p *TestPipeline) WaitFinished(t *testing.T, id uuid.UUID) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var status string
		err := p.e.db.QueryRow(context.Background(), `SELECT coalesce((SELECT status FROM runs WHERE run_id = $1), '')`, id).Scan(&status)
		if err != nil {
			t.Fatal(err)
		}
		if status != "" && status != "running" {
			return status
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished in the database: status %q", id, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Compare runs `producer compare` against the pipeline.
func (p *TestPipeline) Compare(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := p.e.compare(t, args...)
	return r.code, r.stdout, r.stderr
}

// Report is the --json document of Compare, for external tests.
type Report = report

// FigureStat returns a figure's statistical verdict in a --json report and whether it failed the gate.
func (r *report) FigureStat(name string) (verdict string, regression bool, ok bool) {
	for _, f := range r.Figures {
		if f.Name == name && f.Stat != nil {
			return f.Stat.Verdict.String(), f.Regression, true
		}
	}
	return "", false, false
}
