package spoolcmd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/producer/spoolcmd"
	"github.com/benchpipe/benchpipe/schema"
)

const topic = "benchpipe.records"

func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port
}

// delivered reads every record in the records topic (its end offsets say how many there are) and counts each
// run_id/seq it holds.
func delivered(t *testing.T, brokers []string) map[string]int {
	t.Helper()
	recs := testenv.ConsumeAll(t, brokers, topic)
	got := map[string]int{}
	for _, kr := range recs {
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("record at %d/%d does not decode: %v", kr.Partition, kr.Offset, err)
		}
		got[fmt.Sprintf("%s/%d", r.RunID, r.Seq)]++
	}
	return got
}

// assertOnce checks that Kafka holds seqs 0..n-1 of each run exactly once, and nothing else.
func assertOnce(t *testing.T, got map[string]int, ids []string, n int) {
	t.Helper()
	want := map[string]int{}
	for _, id := range ids {
		for seq := range n {
			want[fmt.Sprintf("%s/%d", id, seq)] = 1
		}
	}
	for k, c := range got {
		if want[k] != c {
			t.Errorf("record %s delivered %d times, want %d", k, c, want[k])
		}
	}
	for k := range want {
		if got[k] == 0 {
			t.Errorf("record %s never delivered", k)
		}
	}
}

// writeConfig writes a configuration file pointing at brokers (none: Kafka not configured) and spoolDir.
func writeConfig(t *testing.T, spoolDir string, brokers ...string) string {
	t.Helper()
	var b strings.Builder
	if len(brokers) > 0 {
		fmt.Fprintf(&b, "kafka:\n  brokers: [%s]\n", strings.Join(brokers, ", "))
	}
	fmt.Fprintf(&b, "producer:\n  spool_dir: %s\n", spoolDir)
	path := filepath.Join(t.TempDir(), "benchpipe.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// spoolRuns leaves runs of n records each in the spool, as a producer does when Kafka is down when it ends.
func spoolRuns(t *testing.T, cfgFile string, runs, n int) []string {
	t.Helper()
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range runs {
		r := runrec.New(schema.KindPgbench, schema.Started{Host: schema.Host{Hostname: "pi"}})
		ids = append(ids, r.ID().String())
		recs := []schema.Record{r.Started()}
		for range n - 2 {
			now := time.Now()
			recs = append(recs, r.Sample(schema.Sample{Start: now, End: now, Phase: schema.PhaseMeasure}))
		}
		recs = append(recs, r.Finished(schema.StatusOK, "", nil))
		for _, rec := range recs {
			if err := p.Publish(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Fatal("Close delivered the records; Kafka was supposed to be down")
	}
	return ids
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = spoolcmd.Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// TestStatusThenFlushAfterOutage is the operator's path after an outage: status shows what waits, flush fails
// clearly while Kafka is still down and keeps the records, and delivers them once Kafka is back, each exactly once.
// On kfake and on the real broker (down for the producer's whole run, then up).
func TestStatusThenFlushAfterOutage(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testStatusThenFlushAfterOutage(t, kb) })
	}
}

func testStatusThenFlushAfterOutage(t *testing.T, kb testenv.KafkaBackend) {
	seeds, up := kb.Down(t, topic, 2)
	broker := seeds[0]
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, broker)
	ids := spoolRuns(t, cfgFile, 2, 5)

	code, out, errOut := run("status", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut)
	}
	t.Logf("status:\n%s", out)
	mustContain(t, "status", out, "Spool "+dir+": 10 records", "2 runs waiting", ids[0], ids[1], "0–4", "producer spool flush", broker)

	code, out, _ = run("status", "--config", cfgFile, "--json")
	var st publish.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("status --json: exit %d, %v:\n%s", code, err, out)
	}
	if st.Records != 10 || len(st.Runs) != 2 || st.Runs[0].RunID != ids[0] || st.Runs[1].MaxSeq != 4 {
		t.Errorf("status --json = %+v", st)
	}

	start := time.Now()
	code, out, errOut = run("flush", "--config", cfgFile, "--timeout", "1500ms")
	if code != 1 {
		t.Fatalf("flush while Kafka is down: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("flush --timeout 1500ms took %v", took)
	}
	t.Logf("flush while down:\n%s%s", out, errOut)
	mustContain(t, "flush stderr", errOut, "Kafka is still unreachable after 1.5s", "connection refused", "10 remain spooled in "+dir)
	if st, _ := publish.Inspect(dir); st.Records != 10 {
		t.Fatalf("after the failed flush the spool holds %d records, want 10", st.Records)
	}

	brokers := up()
	code, out, errOut = run("flush", "--config", cfgFile, "--timeout", "60s")
	if code != 0 {
		t.Fatalf("flush with Kafka up: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("flush with Kafka up:\n%s", out)
	mustContain(t, "flush", out, "Flushing 10 records", "Delivered 10 records", "the spool is empty")
	assertOnce(t, delivered(t, brokers), ids, 5)

	code, out, _ = run("status", "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "is empty") {
		t.Errorf("status after flush: exit %d\n%s", code, out)
	}
	code, out, _ = run("flush", "--config", cfgFile)
	if code != 0 || !strings.Contains(out, "nothing to flush") {
		t.Errorf("flush of an empty spool: exit %d\n%s", code, out)
	}
}

// TestWhileAProducerRuns: the running producer holds the spool while Kafka is down; status reports its snapshot,
// flush explains why it cannot and that the producer is delivering; once Kafka comes up the producer delivers its
// run itself, every record exactly once. On kfake and on the real broker.
func TestWhileAProducerRuns(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testWhileAProducerRuns(t, kb) })
	}
}

func testWhileAProducerRuns(t *testing.T, kb testenv.KafkaBackend) {
	seeds, up := kb.Down(t, topic, 2)
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, seeds...)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = p.Close(ctx)
		}
	}()
	r := runrec.New(schema.KindMQTT, schema.Started{Host: schema.Host{Hostname: "pi"}})
	if err := p.Publish(context.Background(), r.Started()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for {
		var code int
		code, out, _ = run("status", "--config", cfgFile)
		if code == 0 && strings.Contains(out, "1 record ") && strings.Contains(out, "last delivery error") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the running producer's snapshot:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("status:\n%s", out)
	mustContain(t, "status", out, "held by  a running producer (pid "+strconv.Itoa(os.Getpid())+")", "kafka unreachable")

	code, _, errOut := run("flush", "--config", cfgFile, "--timeout", "5s")
	if code != 1 {
		t.Fatalf("flush while a producer runs: exit %d, want 1", code)
	}
	t.Logf("flush:\n%s", errOut)
	mustContain(t, "flush stderr", errOut, "held by a running producer (pid "+strconv.Itoa(os.Getpid())+")", "delivers it itself", "1 record waiting", "kafka unreachable")

	// Kafka comes up while the producer still runs: it delivers what it spooled and what it publishes from now on.
	brokers := up()
	now := time.Now()
	for _, rec := range []schema.Record{r.Sample(schema.Sample{Start: now, End: now, Phase: schema.PhaseMeasure}), r.Finished(schema.StatusOK, "", nil)} {
		if err := p.Publish(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	closed = true
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close after Kafka came up: %v", err)
	}
	assertOnce(t, delivered(t, brokers), []string{r.ID().String()}, 3)
	if st, err := publish.Inspect(dir); err != nil || st.Records != 0 || st.Live != nil {
		t.Errorf("Inspect after the producer delivered = %+v, %v; want an empty spool nobody holds", st, err)
	}
}

func TestFlushWithoutKafkaConfigured(t *testing.T) {
	broker, _ := freeAddr(t)
	dir := t.TempDir()
	spoolRuns(t, writeConfig(t, dir, broker), 1, 3)
	noKafka := writeConfig(t, dir)

	code, _, errOut := run("flush", "--config", noKafka)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	mustContain(t, "flush stderr", errOut, "kafka.brokers is not configured", "3 records stay in "+dir)
	code, out, _ := run("status", "--config", noKafka)
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	mustContain(t, "status", out, "3 records", "Kafka is not configured")
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		stdout    string
		stderr    string
		noStdout  bool
		spoolFlag bool
		exact     bool // stderr is all of it
	}{
		{args: nil, code: 2, stderr: "producer spool: missing command: status or flush\nRun 'producer spool --help' for usage.\n", exact: true},
		{args: []string{"--help"}, code: 0, stdout: "Usage: producer spool <command>"},
		{args: []string{"help"}, code: 0, stdout: "flush"},
		{args: []string{"status", "--help"}, code: 0, stdout: "-config file"},
		{args: []string{"flush", "-h"}, code: 0, stdout: "-timeout duration"},
		{args: []string{"bogus"}, code: 2, stderr: "producer spool: unknown command \"bogus\" (status or flush)\nRun 'producer spool --help' for usage.\n", exact: true},
		{args: []string{"status", "--nope"}, code: 2, stderr: "producer spool status: unknown flag --nope\nRun 'producer spool status --help' for usage.\n", exact: true},
		{args: []string{"flush", "extra"}, code: 2, stderr: "producer spool flush: unexpected argument \"extra\"\nRun 'producer spool flush --help' for usage.\n", exact: true},
		{args: []string{"flush", "--timeout", "0s"}, code: 2, stderr: "producer spool flush: --timeout must be positive\nRun 'producer spool flush --help' for usage.\n", exact: true},
		{args: []string{"flush", "--timeout", "60"}, code: 2, stderr: "producer spool flush: --timeout \"60\": missing unit (e.g. 5s, 2m)\nRun 'producer spool flush --help' for usage.\n", exact: true},
		{args: []string{"flush", "--help"}, code: 0, stdout: "  --timeout duration\n    \tgive up after this long; undelivered records stay spooled (default 1m0s)\n"},
		{args: []string{"status", "--config", "/does/not/exist.yaml"}, code: 1, stderr: "read config"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) || (tc.exact && errOut != tc.stderr) {
				t.Errorf("stdout:\n%s\nstderr:\n%s\nwant stdout with %q, stderr with %q", out, errOut, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestSpoolDirFlag: --spool-dir inspects a spool other than the configured one, e.g. one copied off a device.
func TestSpoolDirFlag(t *testing.T) {
	broker, _ := freeAddr(t)
	dir := t.TempDir()
	spoolRuns(t, writeConfig(t, dir, broker), 1, 2)
	other := writeConfig(t, t.TempDir(), broker)
	code, out, errOut := run("status", "--config", other, "--spool-dir", dir)
	if code != 0 {
		t.Fatal(errOut)
	}
	mustContain(t, "status", out, dir+": 2 records")
}

// TestCorruptEntryIsQuarantined is the operator's path when the spool holds entries nothing can read: one between
// two runs' records (the producer run that spooled the second moved it to quarantine), one after them, still in
// the queue. status exits 0, lists both and warns; flush delivers both runs and moves the second aside too; status
// then shows both in quarantine, still kept.
func TestCorruptEntryIsQuarantined(t *testing.T) {
	broker, port := freeAddr(t)
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, broker)
	corrupt := func(v []byte) uint64 {
		t.Helper()
		db, err := bbolt.Open(filepath.Join(dir, "spool.db"), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var key uint64
		err = db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			key, _ = b.NextSequence()
			return b.Put(binary.BigEndian.AppendUint64(nil, key), v)
		})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	first := spoolRuns(t, cfgFile, 1, 3)
	between := corrupt([]byte{1, 0xff})
	second := spoolRuns(t, cfgFile, 1, 4)
	after := corrupt([]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9})

	code, out, errOut := run("status", "--config", cfgFile)
	t.Logf("status before flush:\n%s%s", out, errOut)
	if code != 0 {
		t.Fatalf("status with unreadable entries: exit %d, want 0", code)
	}
	mustContain(t, "status", out, "Spool "+dir+": 7 records", first[0], second[0], "Quarantine: 2 entries could not be read",
		fmt.Sprintf("  %d ", between), "truncated header", fmt.Sprintf("  %d ", after), "format version 9", "still queued")
	mustContain(t, "status stderr", errOut, "warning: 2 entries in "+dir+" could not be read")

	_, brokers := testenv.Kafka(t, kfake.Ports(port), kfake.SeedTopics(1, topic))
	code, out, errOut = run("flush", "--config", cfgFile, "--timeout", "60s")
	t.Logf("flush:\n%s%s", out, errOut)
	if code != 0 {
		t.Fatalf("flush past an unreadable entry: exit %d, want 0", code)
	}
	mustContain(t, "flush", out, "Delivered 7 records", "the spool is empty")
	mustContain(t, "flush stderr", errOut, "1 entry could not be read and was moved to quarantine")
	if got := testenv.Consume(t, brokers, topic, 8, 3*time.Second); len(got) != 7 {
		t.Errorf("Kafka holds %d records after flush, want exactly 7", len(got))
	}

	code, out, errOut = run("status", "--config", cfgFile, "--json")
	var st publish.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("status --json: exit %d, %v:\n%s%s", code, err, out, errOut)
	}
	if st.Records != 0 || len(st.Quarantine) != 2 || st.Queued() != 0 || st.Quarantine[0].ID != between || st.Quarantine[1].ID != after ||
		st.Quarantine[0].Bytes != 2 || st.Quarantine[1].Bytes != 18 {
		t.Errorf("status --json after flush: %d records, quarantine %+v; want 0, and entries %d (2 bytes) and %d (18 bytes) in quarantine",
			st.Records, st.Quarantine, between, after)
	}
	code, out, _ = run("status", "--config", cfgFile)
	mustContain(t, "status after flush", out, "is empty", "Quarantine: 2 entries", "truncated header", "format version 9")
	if code != 0 || strings.Contains(out, "still queued") {
		t.Errorf("status after flush: exit %d, both entries must be in quarantine now:\n%s", code, out)
	}
}

// TestStatusShowsSizeAndCap: status says how large spool.db is, how much of it is in use and the cap from
// producer.spool_max_bytes, in text and in --json; a running producer's snapshot carries the cap it enforces.
func TestStatusShowsSizeAndCap(t *testing.T) {
	broker, _ := freeAddr(t)
	dir := t.TempDir()
	cfgFile := writeConfig(t, dir, broker)
	if err := os.WriteFile(cfgFile, append(must(os.ReadFile(cfgFile)), "  spool_max_bytes: 2MiB\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	spoolRuns(t, cfgFile, 1, 5)
	fi, err := os.Stat(filepath.Join(dir, "spool.db"))
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run("status", "--config", cfgFile, "--json")
	var st publish.Status
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("status --json: exit %d, %v:\n%s%s", code, err, out, errOut)
	}
	if st.FileBytes != fi.Size() || st.MaxBytes != 2<<20 || st.UsedBytes <= 0 || st.UsedBytes > st.FileBytes {
		t.Errorf("status --json: file %d bytes (on disk %d), in use %d, cap %d (want 2 MiB)", st.FileBytes, fi.Size(), st.UsedBytes, st.MaxBytes)
	}
	code, out, _ = run("status", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	t.Logf("status:\n%s", out)
	limit := publish.Limit(2 << 20)
	mustContain(t, "status", out,
		fmt.Sprintf("file     %.1f KiB on disk, %.1f KiB of it in use", float64(fi.Size())/1024, float64(st.UsedBytes)/1024),
		fmt.Sprintf("cap      2.0 MiB (producer.spool_max_bytes): runs fail once the file would pass %.1f MiB (%.0f%% there)",
			float64(limit)/(1<<20), 100*float64(fi.Size())/float64(limit)))

	// While a producer holds the spool, the cap shown is the one it runs with, not this file's.
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Producer.SpoolMaxBytes = 3 << 20
	p, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(ctx)
	}()
	waitForStatus(t, cfgFile, func(st publish.Status) bool { return st.Live != nil && st.MaxBytes == 3<<20 && st.UsedBytes > 0 })
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// waitForStatus runs status --json until ok accepts what it reports.
func waitForStatus(t *testing.T, cfgFile string, ok func(publish.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, errOut := run("status", "--config", cfgFile, "--json")
		var st publish.Status
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed what was expected; last:\n%s%s", out, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
