package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The machine is shared, so besides rows/s the bench reports CPU time per row, the figure other people's load
// moves least: the bench process's own (the sink decoding and merging, and kfake serving the records), and the
// PostgreSQL server's (postmaster and backends, living and exited), read from /proc. Linux only; elsewhere the
// server's is left out.

// cpuClock is the kernel's clock tick of /proc's CPU times (USER_HZ, 100 on Linux).
const cpuClock = 100

// ownCPU returns this process's CPU time (user and system).
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postmasterPID returns the pid of the throw-away cluster's server in dir, 0 when unknown.
func postmasterPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// serverCPU returns the CPU time of postmaster pid and its children: its own and its exited children's (cutime,
// cstime), plus its living children's. -1 without /proc or a pid.
func serverCPU(pid int) time.Duration {
	if pid == 0 {
		return -1
	}
	total, ok := procCPU(pid, true)
	if !ok {
		return -1
	}
	kids, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	for _, f := range strings.Fields(string(kids)) {
		if k, err := strconv.Atoi(f); err == nil {
			if c, ok := procCPU(k, false); ok {
				total += c
			}
		}
	}
	return total
}

// procCPU reads utime and stime of /proc/pid/stat, and cutime and cstime too when reaped is set.
func procCPU(pid int, reaped bool) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14
	last := 15
	if reaped {
		last = 17
	}
	if len(f) < last-1 {
		return 0, false
	}
	var ticks int64
	for _, x := range f[14-3 : last-3+1] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / cpuClock, true
}
