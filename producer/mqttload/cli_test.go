package mqttload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/producer/recorder/recordertest"
	"github.com/benchpipe/benchpipe/schema"
)

// kafkaConfig writes a configuration file pointing at an in-process Kafka cluster and returns its path and the
// brokers to read the records back from.
func kafkaConfig(t *testing.T) (string, []string) {
	t.Helper()
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	dir := t.TempDir()
	path := filepath.Join(dir, "benchpipe.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nproducer:\n  spool_dir: %q\n  tags: {site: lab}\n", brokers[0], filepath.Join(dir, "spool"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, brokers
}

// records reads a run's records back from Kafka, decoded and in order.
func records(t *testing.T, brokers []string, want int) []schema.Record {
	t.Helper()
	var out []schema.Record
	for _, kr := range testenv.Consume(t, brokers, "benchpipe.records", want, 10*time.Second) {
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("record does not decode: %v\n%s", err, kr.Value)
		}
		out = append(out, r)
	}
	return out
}

// TestDeviceAndSpoolDir: producer.device is the device's name in the run record (host name and device tag), and
// --spool-dir puts the spool where the operator says, not at producer.spool_dir.
func TestDeviceAndSpoolDir(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "benchpipe.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nproducer:\n  spool_dir: %q\n  device: bench-pi-7\n", brokers[0], filepath.Join(dir, "configured"))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "flag")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--config", cfgPath, "--spool-dir", spool, "--embedded-target",
		"--rate", "100", "--duration", "1s"}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(spool, "spool.db")); err != nil {
		t.Errorf("--spool-dir not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "configured")); !os.IsNotExist(err) {
		t.Errorf("producer.spool_dir used despite --spool-dir: %v", err)
	}
	recs := records(t, brokers, 1)
	if h := recs[0].Started.Host.Hostname; h != "bench-pi-7" || recs[0].Started.Tags["device"] != "bench-pi-7" {
		t.Errorf("host name %q, tags %v; want the configured device bench-pi-7", h, recs[0].Started.Tags)
	}
}

func TestRunEmbeddedTargetRecordsAndSummaryJSON(t *testing.T) {
	cfgPath, brokers := kafkaConfig(t)
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{
		"--config", cfgPath, "--embedded-target", "--qos", "1", "--publishers", "2", "--subscribers", "2",
		"--rate", "300", "--duration", "1s", "--warmup", "1s", "--size", "64", "--name", "cli test", "--tag", "case=embedded",
		"--summary-json", out,
	}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}

	t.Logf("stdout:\n%s", stdout.String())
	// Progress in non-terminal mode: plain lines, a warm-up countdown, then the measurement, then the summary.
	o := stdout.String()
	if strings.Contains(o, "\r") {
		t.Fatalf("carriage return in non-terminal output:\n%q", o)
	}
	for _, want := range []string{"warm-up", "left | sent ", "measure | sent ", "/s | received ", "/s | p99 ", "errors 0", "Summary", "corrected", "uncorrected", "lost          0", "records: delivered"} {
		if !strings.Contains(o, want) {
			t.Errorf("stdout lacks %q:\n%s", want, o)
		}
	}

	var s SummaryFile
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var p parameters
	if err := json.Unmarshal(s.Parameters, &p); err != nil {
		t.Fatal(err)
	}
	if s.Status != schema.StatusOK || s.Kind != "mqtt" || s.Partial || p.QoS != 1 || p.Publishers != 2 || p.Rate != 300 || p.Size != 64 || !p.EmbeddedTarget {
		t.Fatalf("summary file: %s", b)
	}
	if got := recordertest.ReadFinal(t, out); got != (recorder.Final{Status: schema.StatusOK, ExitCode: ExitOK}) {
		t.Errorf("summary file outcome %+v, want ok, exit_code 0, records_not_saved 0", got)
	}
	// Warm-up excluded: about 300 of the 600 messages, all received, nothing lost.
	if s.Totals.Sent < 250 || s.Totals.Sent > 350 || s.Totals.Received != s.Totals.Sent || s.Totals.Lost != 0 || s.Totals.Duplicated != 0 || s.Totals.OutOfOrder != 0 {
		t.Fatalf("totals %+v", s.Totals)
	}
	if s.Rates.Offered != 300 || s.Rates.Sent <= 0 || s.LatencyMs.Corrected == nil || s.LatencyMs.Uncorrected == nil || s.LatencyMs.Corrected.P99Ms <= 0 {
		t.Fatalf("rates %+v latency %+v", s.Rates, s.LatencyMs)
	}
	if s.Start == nil || s.DurationS < 0.9 || s.DurationS > 1.5 {
		t.Fatalf("measurement %v for %v s", s.Start, s.DurationS)
	}

	// The records: run_started, a sample per second (warm-up and measurement), run_finished, all of one run.
	recs := records(t, brokers, 4)
	if len(recs) < 4 {
		t.Fatalf("%d records", len(recs))
	}
	first, last := recs[0], recs[len(recs)-1]
	if first.Type != schema.TypeRunStarted || last.Type != schema.TypeRunFinished || first.RunID != s.RunID {
		t.Fatalf("records: first %s, last %s, run %s (summary says %s)", first.Type, last.Type, first.RunID, s.RunID)
	}
	st := first.Started
	if st.Kind != "mqtt" || st.Name != "cli test" || st.Tags["case"] != "embedded" || st.Tags["site"] != "lab" ||
		!strings.HasPrefix(st.Target.URL, "tcp://127.0.0.1:") || st.Host.Hostname == "" || st.Tools["nats-server"] == "" || st.Tools["go"] == "" ||
		!strings.HasPrefix(st.Target.Version, "nats-server ") {
		t.Fatalf("run_started %+v", st)
	}
	var warm, measure int
	var sampled int64
	for i, r := range recs[1 : len(recs)-1] {
		if r.Type != schema.TypeSample || r.Seq != int64(i+1) {
			t.Fatalf("record %d: %s seq %d", i+1, r.Type, r.Seq)
		}
		if r.Sample.Phase == schema.PhaseWarmup {
			warm++
		} else {
			measure++
			sampled += r.Sample.MQTT.Received
		}
	}
	// Samples count a message in the interval in which it arrived (an interval ends when its timer fires), the
	// totals in the phase in which it was sent: the two differ by the few messages in flight at the warm-up's end.
	if d := sampled - s.Totals.Received; warm == 0 || measure == 0 || d < -20 || d > 20 {
		t.Fatalf("%d warm-up and %d measure samples receiving %d (summary %d)", warm, measure, sampled, s.Totals.Received)
	}
	fin := last.Finished
	if fin.Status != schema.StatusOK || fin.Summary == nil || fin.Summary.MQTT.Sent != s.Totals.Sent || fin.Summary.Latency.P50Ms != s.LatencyMs.Corrected.P50Ms {
		t.Fatalf("run_finished %+v", fin)
	}
	var extra summaryExtra
	if err := json.Unmarshal(fin.Summary.Extra, &extra); err != nil || extra.Partial || extra.Uncorrected == nil {
		t.Fatalf("extra %s: %v", fin.Summary.Extra, err)
	}
}

func TestRunBrokerUnreachable(t *testing.T) {
	cfgPath, brokers := kafkaConfig(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"--config", cfgPath, "--broker", "tcp://" + addr, "--connect-timeout", "2s", "--summary-json", out}, &stdout, &stderr)
	if code != ExitFailed {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "cannot connect to the MQTT broker tcp://"+addr) || !strings.Contains(stderr.String(), "is the broker running") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	recs := records(t, brokers, 2)
	if len(recs) != 2 || recs[0].Type != schema.TypeRunStarted || recs[1].Type != schema.TypeRunFinished {
		t.Fatalf("records %+v", recs)
	}
	fin := recs[1].Finished
	if fin.Status != schema.StatusFailed || !strings.Contains(fin.Error, "cannot connect") || fin.Summary != nil {
		t.Fatalf("run_finished %+v", fin)
	}
	b, _ := os.ReadFile(out)
	var s SummaryFile
	if err := json.Unmarshal(b, &s); err != nil || s.Status != schema.StatusFailed || s.RunID != recs[0].RunID {
		t.Fatalf("summary file %s: %v", b, err)
	}
	if got, want := recordertest.ReadFinal(t, out), (recorder.Final{Status: schema.StatusFailed, Error: fin.Error, ExitCode: ExitFailed}); got != want {
		t.Errorf("summary file outcome %+v, want %+v", got, want)
	}
}

// fullSpoolConfig writes a configuration whose spool is full and returns its path: producer.spool_max_bytes is
// the smallest allowed (1 MiB), Kafka is not there (nothing listens at kafka.brokers), and the spool already holds
// as many undelivered values as it takes, so that a publisher opened on it refuses even a value of a few bytes.
// Every record of the next run is refused with "spool is full" but run_finished, which may use the space the
// spool keeps for it.
func fullSpoolConfig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "benchpipe.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nproducer:\n  spool_dir: %q\n  spool_max_bytes: 1MiB\n", down, filepath.Join(dir, "spool"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	recordertest.FillSpool(t, path)
	return path
}

// notSavedLine is the recorder's account on stdout of the records it could not save.
var notSavedLine = regexp.MustCompile(`(?m)^records: (\d+) records? of (\d+) NOT SAVED`)

// TestRunSummaryJSONRecordsNotSaved: the measurement of a run succeeds but its spool is full, so its records but
// run_finished cannot be saved. The run ends failed with exit status recorder.ExitNotSaved, and --summary-json,
// written once the records are closed, says so: status failed, that exit_code, records_not_saved the exact count
// the recorder reported, and an error naming it, next to the measurement's figures.
func TestRunSummaryJSONRecordsNotSaved(t *testing.T) {
	cfgPath := fullSpoolConfig(t)
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr testenv.Buffer
	code := Run(context.Background(), []string{"--config", cfgPath, "--embedded-target", "--rate", "100", "--duration", "2s",
		"--summary-json", out}, &stdout, &stderr)
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	if code != recorder.ExitNotSaved {
		t.Errorf("exit %d, want %d: the run's records were not saved", code, recorder.ExitNotSaved)
	}
	if !strings.Contains(stdout.String(), "status        ok") || !strings.Contains(stderr.String(), "records are not being saved: publish run_started record 0 of run ") ||
		!strings.Contains(stderr.String(), ": spool is full: ") {
		t.Fatalf("want a measurement that succeeded and records refused by the full spool from run_started on")
	}
	m := notSavedLine.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("stdout does not say how many records were not saved")
	}
	n, _ := strconv.Atoi(m[1])
	if total, _ := strconv.Atoi(m[2]); total < 4 || n != total-1 {
		t.Fatalf("%d records of %d not saved; want all but run_finished, of run_started, 2 samples or more and run_finished", n, total)
	}
	want := recorder.Final{Status: schema.StatusFailed, ExitCode: recorder.ExitNotSaved, RecordsNotSaved: n,
		Error: fmt.Sprintf("%d records of this run not saved to the producer's spool", n)}
	if got := recordertest.ReadFinal(t, out); got != want {
		t.Errorf("summary file outcome %+v, want %+v", got, want)
	}
	var s SummaryFile
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(stdout.String(), "run "), ":")
	if s.RunID == uuid.Nil || s.RunID.String() != id || s.Totals.Sent == 0 || s.Totals.Received != s.Totals.Sent || s.Start == nil {
		t.Errorf("summary file of run %s: the measurement's figures are missing:\n%s", id, b)
	}
}

func TestRunAbortedStillSummarises(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1200*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	code := Run(ctx, []string{"--config", writeEmptyConfig(t), "--embedded-target", "--rate", "200", "--duration", "1m"}, &stdout, &stderr)
	if code != ExitAborted {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"Summary", "status        aborted", "partial", "records: not sent"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}

func writeEmptyConfig(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunUsage: a mistake on the command line gives one line with the cause and one pointing at --help, exit 2;
// never the whole help, in which the cause would scroll away.
func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line of stderr, after "producer mqtt: "
	}{
		{[]string{"--duration", "5"}, `--duration "5": missing unit (e.g. 5s, 2m)`},
		{[]string{"--rate", "fast"}, `--rate "fast": not a number`},
		{[]string{"--publishers", "-"}, `--publishers "-": not a whole number`},
		{[]string{"--bogus"}, `unknown flag --bogus`},
		{[]string{"--publisher", "3"}, `unknown flag --publisher (did you mean --publishers?)`},
		{[]string{"--qos", "3"}, `--qos must be 0, 1 or 2, got 3`},
		{[]string{"--size", "10"}, `size must be ≥ 40 bytes (the header carrying publisher, sequence number and send times), got 10`},
		{[]string{"--embedded-target", "--broker", "tcp://x:1"}, `--embedded-target and --broker exclude each other`},
		{[]string{"--tag", "novalue"}, `--tag "novalue": "novalue" is not k=v`},
		{[]string{"--ca-file", "x.pem"}, `TLS flags given but --broker tcp://localhost:1883 is not an ssl:// (or tls://, mqtts://, wss://) URL`},
		{[]string{"extra"}, `unexpected argument "extra" (producer mqtt takes flags only)`},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"--config", writeEmptyConfig(t)}, tc.args...), &stdout, &stderr)
		want := "producer mqtt: " + tc.want + "\nRun 'producer mqtt --help' for usage.\n"
		if code != ExitUsage || stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", tc.args, code, stderr.String(), want)
		}
	}
}

// TestHelp: --help goes to stdout, exit 0, and shows every default, zero ones included.
func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &stdout, &stderr); code != ExitOK || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"Examples:",
		"  --rate MSG/S\n    \tMSG/S over all publishers, on an absolute schedule; 0 = as fast as possible (default 0)\n",
		"  --duration D\n", "(default 10s)\n", "  --qos 0|1|2\n", "(default 0)\n", `(default "benchpipe/bench/{id}")`, "MQTT_PASSWORD=secret producer mqtt",
		"  --count N\n    \tpublish N messages in all, warm-up included; 0 = no limit (default 0)\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestRunNeverShowsPasswords: broker URLs with passwords net/url refuses ('#', '%', '/') and $MQTT_PASSWORD,
// against a broker that is not there. Neither may appear in stdout, stderr, --summary-json or the records.
func TestRunNeverShowsPasswords(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const envSecret = "Env7Mqtt"
	t.Setenv(EnvPassword, envSecret)
	for _, tc := range []struct {
		broker string
		code   int // a URL paho cannot use is a usage error: nothing runs, nothing is recorded
		leaks  []string
	}{
		{"tcp://bench:Mx5#p%zz@" + addr, ExitUsage, []string{"Mx5", "p%zz"}},
		{"tcp://bench:Nw3/x@" + addr, ExitUsage, []string{"Nw3"}},
		{"ssl://bench:Ok8%41@" + addr, ExitFailed, []string{"Ok8"}},
		{"tcp://bench:Pq2%23x@" + addr, ExitFailed, []string{"Pq2"}},
		{"tcp://bench@" + addr, ExitFailed, nil},
	} {
		t.Run(tc.broker, func(t *testing.T) {
			cfgPath, brokers := kafkaConfig(t)
			out := filepath.Join(t.TempDir(), "summary.json")
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), []string{"--config", cfgPath, "--broker", tc.broker, "--connect-timeout", "2s",
				"--summary-json", out, "--name", "named " + envSecret}, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, stderr.String())
			}
			where := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
			var recs []schema.Record
			if code == ExitFailed {
				sum, _ := os.ReadFile(out)
				recs = records(t, brokers, 2)
				if len(recs) != 2 || recs[1].Type != schema.TypeRunFinished || !strings.Contains(recs[1].Finished.Error, "cannot connect") {
					t.Fatalf("records %+v", recs)
				}
				decoded, _ := json.Marshal(recs)
				where["--summary-json"], where["records"] = string(sum), string(decoded)
				if u := recs[0].Started.Target.URL; u != "tcp://bench@"+addr && u != "ssl://bench@"+addr {
					t.Errorf("target url %q", u)
				}
			}
			for place, text := range where {
				for _, leak := range append(tc.leaks, envSecret) {
					if strings.Contains(text, leak) {
						t.Errorf("%s holds %q:\n%s", place, leak, text)
					}
				}
			}
		})
	}
}
