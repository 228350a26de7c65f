// Package spoolcmd is `producer spool`: the commands that show what waits in a producer's spool and deliver it on
// demand. The spool itself, and the shipping every producer run does on its own, live in producer/publish; these
// commands are for the operator of an edge device after an outage ("did my results get out?").
package spoolcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `Usage: producer spool <command> [flags]

A producer writes every record to its spool (producer.spool_dir) before sending it to
Kafka, and removes it only once Kafka has acknowledged it. Records survive crashes,
reboots and Kafka outages; each producer run also delivers what earlier runs left.

Commands:
  status   show what waits in the spool: records, size, oldest and newest, runs,
           unreadable entries kept in quarantine, and the file's size and cap
  flush    deliver the spool to Kafka now and wait until it is empty

An entry nothing can read (a corrupt disk, or a spool written by a newer build) is
moved to a quarantine inside the spool so that delivery goes on without it; it is
never deleted. status lists it and warns, and still exits 0.

The spool file is capped by producer.spool_max_bytes (default 4GiB, 1GiB on 32-bit
builds): a run whose records would take it past the cap fails loudly, and what is
already spooled is kept. Once Kafka has the records, the space they took is given
back to the file system.

Run 'producer spool <command> --help' for a command's flags.
`

// Run runs `producer spool` with args, the words after "spool" (e.g. ["flush", "--timeout", "2m"]), and returns
// the process exit code: 0 done, 1 failed (the message is on stderr), 2 bad usage.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return cli.Fail(stderr, "producer spool", cli.Errorf("missing command: status or flush"))
	}
	switch args[0] {
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "flush":
		return runFlush(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		return cli.Fail(stderr, "producer spool", cli.Errorf("unknown command %q (status or flush)", args[0]))
	}
}

// common are the flags every spool command takes.
type common struct {
	configFile string
	spoolDir   string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&c.spoolDir, "spool-dir", "", "spool `directory` (default producer.spool_dir from the configuration)")
}

// load resolves the configuration and applies --spool-dir.
func (c *common) load() (*config.Config, error) {
	cfg, err := config.Resolve(c.configFile, config.SectionKafka, config.SectionTopics, config.SectionProducer)
	if err != nil {
		return nil, err
	}
	if c.spoolDir != "" {
		cfg.Producer.SpoolDir = c.spoolDir
	}
	return cfg, nil
}

// parse parses a command's flags. It returns ok=false with the exit code when the command should not run:
// after --help (usage on stdout, 0) or a bad flag (message on stderr, 2).
func parse(fs *flag.FlagSet, summary string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	prog := "producer spool " + fs.Name()
	err := cli.Parse(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "Usage: %s [flags]\n\n%s\n\nFlags:\n", prog, summary)
		cli.PrintDefaults(stdout, fs)
		return exitOK, false
	case err != nil:
		return cli.Fail(stderr, prog, err), false
	case fs.NArg() > 0:
		return cli.Fail(stderr, prog, cli.Errorf("unexpected argument %q", fs.Arg(0))), false
	}
	return exitOK, true
}

func brokerList(brokers []string) string {
	out := make([]string, len(brokers))
	for i, b := range brokers {
		out[i] = schema.RedactURL(b)
	}
	return strings.Join(out, ",")
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "the built-in defaults"
	}
	return cfg.File
}

const statusSummary = `Shows what waits in the spool for Kafka: how many records, their size, the oldest and
newest record and, per run, how many records and which sequence numbers; the unreadable
entries kept in quarantine (key, size, reason), with a warning on stderr; and the size of
spool.db, how much of it is in use and its cap (producer.spool_max_bytes). It
reads the spool without changing it and without contacting Kafka. While a producer runs,
the spool is locked and the figures come from the snapshot that producer keeps current.
Exit status: 0 (also with entries in quarantine), 1 when the spool cannot be read.`

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if code, ok := parse(fs, statusSummary, args, stdout, stderr); !ok {
		return code
	}
	cfg, err := c.load()
	if err != nil {
		return cli.FailConfig(stderr, "producer spool status", err, exitFail)
	}
	st, err := publish.Inspect(cfg.Producer.SpoolDir)
	if err != nil {
		fmt.Fprintf(stderr, "producer spool status: %v\n", err)
		return exitFail
	}
	if st.MaxBytes == 0 { // a running producer reports the cap it enforces; otherwise it is the configuration's
		st.MaxBytes = int64(cfg.Producer.SpoolMaxBytes)
	}
	if n := len(st.Quarantine); n > 0 {
		// On stderr too, so a timer or a script that keeps only stderr sees it; the exit status stays 0, since
		// delivery goes on without these entries and nothing can make them readable again.
		fmt.Fprintf(stderr, "producer spool status: warning: %s in %s could not be read and %s kept in quarantine, never sent\n",
			plural(n, "entry", "entries"), st.Dir, pick(n, "is", "are"))
	}
	if *asJSON {
		return printJSON(stdout, stderr, st)
	}
	printStatus(stdout, cfg, st, time.Now())
	return exitOK
}

func plural(n int, one, many string) string { return fmt.Sprintf("%d %s", n, pick(n, one, many)) }

// pick returns one for 1, else many.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printQuarantine lists the unreadable entries.
func printQuarantine(w io.Writer, st publish.Status) {
	if len(st.Quarantine) == 0 {
		return
	}
	fmt.Fprintf(w, "\nQuarantine: %s could not be read; delivery goes on without %s (kept, never sent):\n",
		plural(len(st.Quarantine), "entry", "entries"), pick(len(st.Quarantine), "it", "them"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tBYTES\tSINCE\tREASON")
	for i, q := range st.Quarantine {
		if i == maxRunsShown {
			fmt.Fprintf(tw, "  … and %d more (--json lists all)\t\t\t\n", len(st.Quarantine)-maxRunsShown)
			break
		}
		since := "still queued: moved by the next producer run or flush"
		if !q.At.IsZero() {
			since = q.At.Local().Format(timeLayout)
		}
		fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\n", q.ID, q.Bytes, since, q.Reason)
	}
	tw.Flush()
}

// maxRunsShown keeps the human-readable status readable after a long outage; --json lists every run.
const maxRunsShown = 50

func printStatus(w io.Writer, cfg *config.Config, st publish.Status, now time.Time) {
	defer printQuarantine(w, st)
	if st.Records == 0 {
		fmt.Fprintf(w, "Spool %s is empty: nothing waits for Kafka.\n", st.Dir)
	} else {
		verb := "wait"
		if st.Records == 1 {
			verb = "waits"
		}
		fmt.Fprintf(w, "Spool %s: %s (%s) %s for Kafka.\n", st.Dir, records(st.Records), publish.FormatBytes(st.Bytes), verb)
		fmt.Fprintf(w, "  oldest   %s (%s)\n", st.Oldest.Local().Format(timeLayout), ago(st.Oldest, now))
		fmt.Fprintf(w, "  newest   %s (%s)\n", st.Newest.Local().Format(timeLayout), ago(st.Newest, now))
	}
	if st.FileBytes > 0 {
		fmt.Fprintf(w, "  file     %s on disk, %s of it in use\n", publish.FormatBytes(st.FileBytes), publish.FormatBytes(st.UsedBytes))
	}
	if st.MaxBytes > 0 {
		limit := publish.Limit(st.MaxBytes)
		fmt.Fprintf(w, "  cap      %s (producer.spool_max_bytes): runs fail once the file would pass %s (%.0f%% there)\n",
			publish.FormatBytes(st.MaxBytes), publish.FormatBytes(limit), 100*float64(st.FileBytes)/float64(limit))
	}
	if l := st.Live; l != nil {
		fmt.Fprintf(w, "  held by  a running producer (pid %d), which delivers it itself; figures as of %s\n", l.PID, ago(l.Updated, now))
		fmt.Fprintf(w, "  that producer has spooled %s and delivered %s\n", records(l.Spooled), records(l.Delivered))
		if l.LastError != "" {
			fmt.Fprintf(w, "  last delivery error: %s\n", l.LastError)
		}
		return
	}
	if len(st.Runs) > 0 {
		fmt.Fprintf(w, "\n%d runs waiting:\n", len(st.Runs))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  RUN ID\tRECORDS\tSEQ\tOLDEST\tNEWEST")
		for i, r := range st.Runs {
			if i == maxRunsShown {
				fmt.Fprintf(tw, "  … and %d more (--json lists all)\t\t\t\t\n", len(st.Runs)-maxRunsShown)
				break
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d–%d\t%s\t%s\n", r.RunID, r.Records, r.MinSeq, r.MaxSeq,
				r.Oldest.Local().Format(timeLayout), r.Newest.Local().Format(timeLayout))
		}
		tw.Flush()
	}
	if st.Records == 0 {
		return
	}
	fmt.Fprintln(w)
	if len(cfg.Kafka.Brokers) == 0 {
		fmt.Fprintf(w, "Kafka is not configured (kafka.brokers is empty in %s): the records wait until it is.\n", configName(cfg))
		return
	}
	fmt.Fprintf(w, "They go to %s with the next producer run, or now with 'producer spool flush'.\n", brokerList(cfg.Kafka.Brokers))
}

func records(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "producer spool status: %v\n", err)
		return exitFail
	}
	return exitOK
}

const timeLayout = "2006-01-02 15:04:05 MST"

func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1fh ago", d.Hours())
	}
	return fmt.Sprintf("%.1f days ago", d.Hours()/24)
}

const flushSummary = `Delivers everything in the spool to Kafka now, printing progress, and waits until the
spool is empty or --timeout passes. Records Kafka has not acknowledged by then stay in the
spool; the command then fails and says why (e.g. Kafka still unreachable). A running
producer holds the spool and delivers it itself, so flush is for when none runs.`

func runFlush(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flush", flag.ContinueOnError)
	var c common
	c.register(fs)
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long; undelivered records stay spooled")
	if code, ok := parse(fs, flushSummary, args, stdout, stderr); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "producer spool flush: "+format+"\n", a...)
		return exitFail
	}
	if *timeout <= 0 {
		return cli.Fail(stderr, "producer spool flush", cli.Errorf("--timeout must be positive"))
	}
	cfg, err := c.load()
	if err != nil {
		return cli.FailConfig(stderr, "producer spool flush", err, exitFail)
	}
	dir := cfg.Producer.SpoolDir
	// Inspect first: it neither creates a spool that is not there nor waits for one a producer holds.
	before, err := publish.Inspect(dir)
	switch {
	case err != nil:
		return fail("%v", err)
	case before.Live != nil:
		msg := fmt.Sprintf("spool %s is held by a running producer (pid %d), which delivers it itself: %s waiting",
			dir, before.Live.PID, records(before.Records))
		if before.Live.LastError != "" {
			msg += ", last delivery error: " + before.Live.LastError
		}
		return fail("%s.\nOnly one process may use a spool at a time; let that producer finish, then flush if anything is left.", msg)
	case before.Records == 0 && before.Queued() == 0:
		fmt.Fprintf(stdout, "Spool %s is empty: nothing to flush.\n", dir)
		return exitOK
	case len(cfg.Kafka.Brokers) == 0:
		return fail("kafka.brokers is not configured in %s: nowhere to deliver to. %s stay in %s.", configName(cfg), records(before.Records), dir)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	p, err := publish.Open(ctx, cfg, publish.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fail("%v", err)
	}
	st := p.Stats()
	total := st.Pending - int64(before.Queued()) // unreadable entries are moved aside, not delivered
	fmt.Fprintf(stdout, "Flushing %s (%s) from %s to %s …\n", records(total), publish.FormatBytes(st.PendingBytes), dir, brokerList(cfg.Kafka.Brokers))

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- p.Close(ctx) }() // received below on every path
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var shown string
	for {
		select {
		case err := <-closed:
			st := p.Stats()
			if err == nil {
				fmt.Fprintf(stdout, "Delivered %s in %s; the spool is empty", records(st.Delivered), time.Since(start).Round(time.Millisecond))
				if after, err := publish.Inspect(dir); err == nil && after.FileBytes > 0 {
					fmt.Fprintf(stdout, " and spool.db takes %s on disk", publish.FormatBytes(after.FileBytes))
					if st.Compactions > 0 {
						fmt.Fprintf(stdout, " (was %s: the delivered records' space is given back)", publish.FormatBytes(before.FileBytes))
					}
				}
				fmt.Fprintln(stdout, ".")
				if st.Quarantined > 0 {
					fmt.Fprintf(stderr, "producer spool flush: warning: %s could not be read and %s moved to quarantine, never sent; 'producer spool status' lists %s\n",
						plural(int(st.Quarantined), "entry", "entries"), pick(int(st.Quarantined), "was", "were"),
						pick(int(st.Quarantined), "it", "them"))
				}
				return exitOK
			}
			if !errors.Is(err, publish.ErrUndelivered) {
				return fail("%v", err)
			}
			var why string
			again := "once Kafka is reachable"
			switch {
			case errors.Is(err, context.Canceled):
				why = "interrupted"
			case errors.Is(st.LastError, publish.ErrKafkaAuth):
				why, again = fmt.Sprintf("%v", st.LastError), "once kafka.sasl is right"
			case errors.Is(st.LastError, publish.ErrKafkaUnreachable):
				why = fmt.Sprintf("Kafka is still unreachable after %s (%s)", timeout,
					strings.TrimPrefix(st.LastError.Error(), publish.ErrKafkaUnreachable.Error()+": "))
			case st.LastError != nil:
				why = fmt.Sprintf("timed out after %s; last delivery error: %v", timeout, st.LastError)
			default:
				why = fmt.Sprintf("timed out after %s before Kafka acknowledged everything", timeout)
			}
			return fail("%s.\n%d of %d records delivered; %d remain spooled in %s. They go out with the next producer run, or run 'producer spool flush' again %s.",
				why, st.Delivered, total, st.Pending, dir, again)
		case <-tick.C:
			st := p.Stats()
			line := fmt.Sprintf("  %d/%d delivered", st.Delivered, total)
			if st.LastError != nil {
				line += " — waiting: " + st.LastError.Error()
			}
			if line != shown {
				fmt.Fprintln(stdout, line)
				shown = line
			}
		}
	}
}
