package pgcopy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/benchpipe/benchpipe/schema"
)

// benchRows is the sink's largest batch.
const benchRows = 10000

// benchCopy measures write, which stores benchRows sample rows, into an emptied samples table of a migrated
// database, and reports per row: the time, this process's CPU time (client-cpu) and, when the server runs on this
// machine, its backend's CPU time (server-cpu). On a machine shared with other work the times swing with the load;
// the CPU times hardly do. Emptying the table is not measured.
func benchCopy(b *testing.B, write func(ctx context.Context, conn *pgx.Conn, table *Table, rows [][]any) (int64, error)) {
	ctx := context.Background()
	conn := connect(b)
	migrate(b, conn)
	table := load(b, conn, "samples", schema.SampleColumns)
	rows := sampleRows(sampleRecords(benchRows))
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	ops := 0
	var cpu, serverCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		exec(b, conn, "TRUNCATE samples")
		b.StartTimer()
		before, serverBefore := cpuTime(b), processCPU(backend)
		n, err := write(ctx, conn, table, rows)
		cpu += cpuTime(b) - before
		serverCPU += processCPU(backend) - serverBefore
		if err != nil {
			b.Fatal(err)
		}
		if n != benchRows {
			b.Fatalf("stored %d rows, want %d", n, benchRows)
		}
		ops++
	}
	perRow := float64(b.Elapsed().Nanoseconds()) / float64(ops*benchRows)
	b.ReportMetric(perRow, "ns/row")
	b.ReportMetric(1e9/perRow, "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops*benchRows), "client-cpu-ns/row")
	if serverCPU > 0 {
		b.ReportMetric(float64(serverCPU.Nanoseconds())/float64(ops*benchRows), "server-cpu-ns/row")
	}
}

// processCPU is the user and system CPU time of process pid on this machine, 0 if it cannot be read (a server
// elsewhere). /proc counts in clock ticks, 100 a second on Linux.
func processCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCopySamples(b *testing.B) {
	benchCopy(b, func(ctx context.Context, conn *pgx.Conn, table *Table, rows [][]any) (int64, error) {
		return table.Copy(ctx, conn.PgConn(), rows)
	})
}

func BenchmarkPgxCopyFromSamples(b *testing.B) {
	benchCopy(b, func(ctx context.Context, conn *pgx.Conn, _ *Table, rows [][]any) (int64, error) {
		return conn.CopyFrom(ctx, pgx.Identifier{"samples"}, schema.SampleColumns, pgx.CopyFromRows(rows))
	})
}

// BenchmarkCopyTransport compares ways of handing the encoded rows to PgConn.CopyFrom: Copy's reader that encodes
// on demand, a goroutine writing send-buffer-sized chunks into an io.Pipe (pgx's way), and the whole batch encoded
// into one buffer first. "server" sends a batch encoded before the benchmark, so it measures the server and the
// wire alone: the floor for any client.
func BenchmarkCopyTransport(b *testing.B) {
	b.Run("reader", BenchmarkCopySamples)
	b.Run("pipe", func(b *testing.B) { benchCopy(b, copyPipe) })
	b.Run("buffer", func(b *testing.B) {
		benchCopy(b, func(ctx context.Context, conn *pgx.Conn, table *Table, rows [][]any) (int64, error) {
			buf, err := encodeAll(table, rows)
			if err != nil {
				return 0, err
			}
			return copyBytes(ctx, conn.PgConn(), table, buf)
		})
	})
	b.Run("server", func(b *testing.B) {
		var buf []byte
		benchCopy(b, func(ctx context.Context, conn *pgx.Conn, table *Table, rows [][]any) (int64, error) {
			if buf == nil {
				var err error
				if buf, err = encodeAll(table, rows); err != nil {
					return 0, err
				}
			}
			return copyBytes(ctx, conn.PgConn(), table, buf)
		})
	})
}

func encodeAll(table *Table, rows [][]any) ([]byte, error) {
	buf := appendHeader(make([]byte, 0, 1<<20))
	for _, row := range rows {
		var err error
		if buf, err = table.appendRow(buf, row); err != nil {
			return nil, err
		}
	}
	return append(buf, trailer...), nil
}

func copyBytes(ctx context.Context, conn *pgconn.PgConn, table *Table, data []byte) (int64, error) {
	tag, err := conn.CopyFrom(ctx, bytes.NewReader(data), table.sql)
	return tag.RowsAffected(), err
}

// copyPipe is pgx CopyFrom's transport with pgcopy's encoding: a goroutine encodes chunks that fit one send buffer
// and writes them into an io.Pipe that PgConn.CopyFrom reads.
func copyPipe(ctx context.Context, conn *pgx.Conn, table *Table, rows [][]any) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := appendHeader(make([]byte, 0, sendSize))
		largest := 0
		for _, row := range rows {
			start := len(buf)
			var err error
			if buf, err = table.appendRow(buf, row); err != nil {
				pw.CloseWithError(err)
				return
			}
			largest = max(largest, len(buf)-start)
			if len(buf) > sendSize-largest {
				if _, err := pw.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		if _, err := pw.Write(append(buf, trailer...)); err != nil {
			return
		}
		pw.Close()
	}()
	tag, err := conn.PgConn().CopyFrom(ctx, pr, table.sql)
	pr.Close()
	<-done
	return tag.RowsAffected(), err
}

// BenchmarkEncodeSamples is the client's share of Copy alone: encoding sample rows into a reused buffer.
func BenchmarkEncodeSamples(b *testing.B) {
	conn := connect(b)
	migrate(b, conn)
	table := load(b, conn, "samples", schema.SampleColumns)
	rows := sampleRows(sampleRecords(benchRows))
	buf := make([]byte, 0, 8<<20)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, row := range rows {
			var err error
			if buf, err = table.appendRow(buf, row); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
}

// BenchmarkEncodeSampleRecords is the client's share of a sample from its decoded record to COPY bytes: through
// SampleRow's []any (values), and written typed from the record as the sink does (typed).
func BenchmarkEncodeSampleRecords(b *testing.B) {
	table := sampleTable()
	recs := sampleRecords(benchRows)
	buf := make([]byte, 0, 8<<20)
	b.Run("values", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			for i := range recs {
				var err error
				if buf, err = table.appendRow(buf, recs[i].SampleRow()); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
	})
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		w := Row{t: table}
		for b.Loop() {
			buf = buf[:0]
			for i := range recs {
				w.begin(buf)
				recs[i].WriteSampleRow(&w)
				var err error
				if buf, err = w.end(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
	})
}
