// Command bench measures what `producer pgbench` costs: the same select-only pgbench run (-S -c 8 -j 2 -T 20 on
// a scale-10 database) plain and through the producer, on a throw-away PostgreSQL started for the purpose, with
// the producer's records going to an in-process Kafka (kfake) through its spool as in production. It prints both
// runs' tps (pgbench's own figure, so the two are measured alike), their ratio, and the producer's CPU time and
// peak RSS from its own rusage (the producer process alone, pgbench excluded).
//
// The machine may be shared and noisy, so the pair runs several times, alternating which goes first (-pairs).
//
//	go run ./producer/pgbench/bench [-pairs 2] [-duration 20s] [-clients 8] [-threads 2] [-scale 10]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/pgbench"
)

// The producer runs as a child process (this program started again with envChild set) so that its CPU time and
// memory can be told apart from the benchmark harness's.
const (
	envChild  = "BENCHPIPE_PGBENCH_BENCH_CHILD"  // set: act as `producer pgbench`
	envRusage = "BENCHPIPE_PGBENCH_BENCH_RUSAGE" // where the child writes its own rusage
)

// childUsage is the producer's own resource usage, measured by the producer process itself (RUSAGE_SELF): the
// wait4 rusage its parent sees also counts pgbench, the producer's waited-for child.
type childUsage struct {
	CPUSeconds float64 `json:"cpu_s"`
	MaxRSSKB   int64   `json:"max_rss_kb"`
}

func main() {
	if os.Getenv(envChild) != "" {
		os.Exit(child())
	}
	pairs := flag.Int("pairs", 2, "run the plain/producer pair `N` times, alternating which goes first")
	duration := flag.Duration("duration", 20*time.Second, "pgbench -T")
	clients := flag.Int("clients", 8, "pgbench -c")
	threads := flag.Int("threads", 2, "pgbench -j")
	scale := flag.Int("scale", 10, "pgbench -i -s")
	withKafka := flag.Bool("kafka", true, "send the producer's records to an in-process Kafka (kfake) in this harness; false: records are not sent")
	flag.Parse()
	if err := run(*pairs, *duration, *clients, *threads, *scale, *withKafka); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// child is `producer pgbench` with the producer's own rusage written out at the end.
func child() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := pgbench.Run(ctx, os.Args[1:], io.Discard, os.Stderr)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		u := childUsage{CPUSeconds: cpu(&ru), MaxRSSKB: ru.Maxrss}
		b, _ := json.Marshal(u)
		_ = os.WriteFile(os.Getenv(envRusage), b, 0o644)
	}
	return code
}

func cpu(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// result is one run's figures.
type result struct {
	load       string  // the 1-minute load average when the run started: how noisy the machine was
	harnessCPU float64 // this program's own CPU during the run (kfake, when records go to it), seconds
	processed  int64   // pgbench's "number of transactions actually processed"
	tps        float64 // pgbench's own "tps = … (without initial connection time)"
	pgbenchCPU float64 // seconds
	prodCPU    float64 // the producer's own, seconds
	prodRSSKB  int64
	samples    int
	measured   int64
	p99Ms      float64
}

func run(pairs int, duration time.Duration, clients, threads, scale int, withKafka bool) error {
	pgbenchPath := "/usr/bin/pgbench"
	if _, err := os.Stat(pgbenchPath); err != nil {
		if pgbenchPath, err = exec.LookPath("pgbench"); err != nil {
			return fmt.Errorf("pgbench not found: %w", err)
		}
	}
	fmt.Printf("starting a throw-away PostgreSQL…\n")
	pg, err := testenv.StartPostgres()
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	defer pg.Remove()
	dbURL := pg.URL("postgres")

	work, err := os.MkdirTemp("", "benchpipe-pgbench-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfgPath := filepath.Join(work, "benchpipe.yaml")
	cfg := fmt.Sprintf("producer:\n  spool_dir: %q\n  pgbench:\n    path: %q\n", filepath.Join(work, "spool"), pgbenchPath)
	if withKafka {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "benchpipe.records"))
		if err != nil {
			return fmt.Errorf("start kfake: %w", err)
		}
		defer cluster.Close()
		cfg = fmt.Sprintf("kafka:\n  brokers: [%q]\n", cluster.ListenAddrs()[0]) + cfg
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}

	start := time.Now()
	initCmd := exec.Command(pgbenchPath, "-i", "-q", "-s", fmt.Sprint(scale), dbURL)
	initCmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initCmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}
	fmt.Printf("initialised scale %d in %.1f s\n", scale, time.Since(start).Seconds())

	args := []string{"-S", "-c", fmt.Sprint(clients), "-j", fmt.Sprint(threads), "-T", fmt.Sprint(int(duration.Seconds())), dbURL}
	records := "records to kfake in this harness"
	if !withKafka {
		records = "records not sent"
	}
	fmt.Printf("pgbench %s (plain) vs producer pgbench -- … (exact per-transaction latencies, %s)\n\n",
		strings.Join(args[:len(args)-1], " "), records)
	var ratios, loggingRatios []float64
	for i := 0; i < pairs; i++ {
		// "logging" is plain pgbench with exactly the options the producer adds (-P 1 --progress-timestamp -l):
		// producer/logging isolates the producer's own cost from pgbench's cost of writing every transaction.
		order := []string{"plain", "logging", "producer"}
		if i%2 == 1 {
			order = []string{"producer", "logging", "plain"}
		}
		fmt.Printf("pair %d (%s first):\n", i+1, order[0])
		got := map[string]result{}
		for _, which := range order {
			load := loadAverage()
			harness := selfCPU()
			var r result
			var err error
			switch which {
			case "plain":
				r, err = runPlain(pgbenchPath, args)
			case "logging":
				logDir, derr := os.MkdirTemp(work, "plainlog-")
				if derr != nil {
					return derr
				}
				r, err = runPlain(pgbenchPath, append([]string{"-P", "1", "--progress-timestamp", "-l", "--log-prefix", filepath.Join(logDir, "pgbench_log")}, args...))
				os.RemoveAll(logDir)
			default:
				r, err = runProducer(cfgPath, work, args)
			}
			if err != nil {
				return fmt.Errorf("pair %d, %s: %w", i+1, which, err)
			}
			r.load = load
			r.harnessCPU = selfCPU() - harness
			got[which] = r
		}
		plain, logging, prod := got["plain"], got["logging"], got["producer"]
		ratio := prod.tps / plain.tps
		ratios = append(ratios, ratio)
		fmt.Printf("  plain     %9.1f tps   pgbench CPU %6.2f s (%4.1f µs/tx)   harness CPU %5.2f s   load %s\n", plain.tps, plain.pgbenchCPU, perTx(plain), plain.harnessCPU, plain.load)
		fmt.Printf("  + -l -P 1 %9.1f tps   pgbench CPU %6.2f s (%4.1f µs/tx)   harness CPU %5.2f s   load %s   ratio %.3f (pgbench's own logging)\n", logging.tps, logging.pgbenchCPU, perTx(logging), logging.harnessCPU, logging.load, logging.tps/plain.tps)
		loggingRatios = append(loggingRatios, prod.tps/logging.tps)
		fmt.Printf("  producer  %9.1f tps   pgbench CPU %6.2f s (%4.1f µs/tx)   harness CPU %5.2f s   load %s   ratio %.3f\n", prod.tps, prod.pgbenchCPU, perTx(prod), prod.harnessCPU, prod.load, ratio)
		fmt.Printf("            producer CPU %.2f s (%.1f%% of one core over %v), peak RSS %.1f MB; %d samples, %d transactions, p99 %.3f ms\n\n",
			prod.prodCPU, 100*prod.prodCPU/duration.Seconds(), duration, float64(prod.prodRSSKB)/1024, prod.samples, prod.measured, prod.p99Ms)
	}
	fmt.Printf("ratios (producer/plain):")
	for _, r := range ratios {
		fmt.Printf(" %.3f", r)
	}
	fmt.Printf("\nratios (producer/plain with the same -l -P 1, i.e. the producer's own cost):")
	for _, r := range loggingRatios {
		fmt.Printf(" %.3f", r)
	}
	fmt.Println()
	return nil
}

func perTx(r result) float64 {
	if r.processed == 0 {
		return 0
	}
	return r.pgbenchCPU / float64(r.processed) * 1e6
}

// selfCPU is this program's CPU time so far, seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return cpu(&ru)
}

// loadAverage is the 1-minute load average, "?" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func runPlain(path string, args []string) (result, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	s, err := pgbench.ParseSummary(&stdout)
	if err != nil {
		return result{}, err
	}
	tps, ok := s.TPS()
	if !ok {
		return result{}, fmt.Errorf("no tps in pgbench's summary")
	}
	return result{tps: tps, processed: s.Processed, pgbenchCPU: cpu(cmd.ProcessState.SysUsage().(*syscall.Rusage))}, nil
}

func runProducer(cfgPath, work string, args []string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	summary := filepath.Join(work, "summary.json")
	usage := filepath.Join(work, "rusage.json")
	cmd := exec.Command(self, append([]string{"--config", cfgPath, "--summary-json", summary, "--"}, args...)...)
	cmd.Env = append(os.Environ(), envChild+"=1", envRusage+"="+usage)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	var s pgbench.SummaryFile
	if err := readJSON(summary, &s); err != nil {
		return result{}, err
	}
	var extra struct {
		Pgbench struct {
			TPS       float64 `json:"tps"`
			Processed int64   `json:"processed"`
		} `json:"pgbench"`
		Disagreements []string `json:"disagreements"`
	}
	if err := json.Unmarshal(s.Extra, &extra); err != nil {
		return result{}, fmt.Errorf("summary extra: %w", err)
	}
	if len(extra.Disagreements) > 0 {
		fmt.Printf("  (disagreements: %q)\n", extra.Disagreements)
	}
	var u childUsage
	if err := readJSON(usage, &u); err != nil {
		return result{}, err
	}
	r := result{tps: extra.Pgbench.TPS, processed: extra.Pgbench.Processed, pgbenchCPU: s.PgbenchCPUSeconds, prodCPU: u.CPUSeconds, prodRSSKB: u.MaxRSSKB,
		samples: s.Samples, measured: s.Totals.OK}
	if s.LatencyMs != nil {
		r.p99Ms = s.LatencyMs.P99Ms
	}
	return r, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
