package pgbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStderrReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stderr string
		want   string
	}{
		{name: "aborted clients (captured pgbench 15)", stderr: readTestdata(t, "testdata/pg15/shared/J.err"),
			want: "client 0 script 0 aborted in command 0 query 0: ERROR:  division by zero (and 1 more errors, e.g. client 1 script 0 aborted in command 0 query 0: ERROR:  division by zero); Run was aborted; the above results are incomplete."},
		{name: "connection refused, continued on the next line", stderr: "pgbench: error: connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n" +
			"\tIs the server running on that host and accepting TCP/IP connections?\n",
			want: `connection to server at "127.0.0.1", port 1 failed: Connection refused Is the server running on that host and accepting TCP/IP connections?`},
		{name: "detail lines", stderr: "pgbench: error: invalid rate limit: \"x\"\npgbench: detail: more\npgbench: hint: Try \"pgbench --help\" for more information.\n",
			want: `invalid rate limit: "x" more Try "pgbench --help" for more information.`},
		{name: "getopt's own message", stderr: "starting vacuum...end.\n/usr/lib/postgresql/15/bin/pgbench: invalid option -- 'x'\n",
			want: "starting vacuum...end. /usr/lib/postgresql/15/bin/pgbench: invalid option -- 'x'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newStderrReport()
			sc := bufio.NewScanner(strings.NewReader(tc.stderr))
			for sc.Scan() {
				l, _ := ClassifyStderr(sc.Text())
				r.line(l, sc.Text())
			}
			if got := r.errorText(); got != tc.want {
				t.Errorf("errorText()\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func readTestdata(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReclaimPunchesHoles: the space of log lines already read is given back while the file keeps its size.
func TestReclaimPunchesHoles(t *testing.T) {
	defer func(old int64) { reclaimEvery = old }(reclaimEvery)
	reclaimEvery = 256 << 10
	path := filepath.Join(t.TempDir(), "pgbench_log.1")
	var sb strings.Builder
	for i := 0; sb.Len() < 4<<20; i++ {
		fmt.Fprintf(&sb, "0 %d 1234 0 1800000000 %06d\n", i+1, i%1000000)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSampler(samplerConfig{mode: modeExact, threads: 1, start: time.Now()})
	lt := &logTally{b: &benchRun{sampler: s, reclaim: true}}
	for _, line := range strings.SplitAfter(sb.String(), "\n") {
		if line != "" {
			if err := lt.line(LogLine{Path: path, Text: strings.TrimSuffix(line, "\n")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	lt.close()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(sb.Len()) {
		t.Fatalf("size %d, want %d", st.Size, sb.Len())
	}
	if st.Blocks*512 > st.Size/2 {
		t.Skipf("%d of %d bytes still allocated: this filesystem does not punch holes", st.Blocks*512, st.Size)
	}
	if lt.bad != 0 {
		t.Errorf("%d lines did not parse: %s", lt.bad, lt.firstBad)
	}
}
