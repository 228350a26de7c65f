package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The machine is shared (2 cores, other people's tests): a phase's rows/s means little without knowing who had the
// CPU meanwhile. cpuMeter reads /proc (Linux) for the machine's busy time and for the process trees the bench
// knows — itself, PostgreSQL, the broker, Kafka Connect — and reports each in cores; "others" is the rest.

const clockTicks = 100 // USER_HZ: /proc's unit on every Linux the project runs on

// cpuMeter names what to account for: functions returning CPU-seconds used so far (ownCPU, treeCPU), or -1 when
// there is nothing to measure.
type cpuMeter map[string]func() float64

type cpuSnap struct {
	at    time.Time
	busy  float64            // machine, CPU-seconds
	trees map[string]float64 // CPU-seconds per named tree
}

func (m cpuMeter) snap() cpuSnap {
	s := cpuSnap{at: time.Now(), busy: machineBusy(), trees: map[string]float64{}}
	for name, cpu := range m {
		if c := cpu(); c >= 0 {
			s.trees[name] = c
		}
	}
	return s
}

// cpuUse is what the machine's CPU did during a phase.
type cpuUse struct {
	used       map[string]float64 // CPU-seconds per tree
	wall, busy float64            // seconds; the machine's busy CPU-seconds (0: no /proc)
}

// since reports the CPU each tree used between from and now, and what the rest of the machine used.
func (m cpuMeter) since(from cpuSnap) cpuUse {
	to := m.snap()
	u := cpuUse{used: map[string]float64{}, wall: to.at.Sub(from.at).Seconds()}
	if u.wall <= 0 || from.busy == 0 {
		return u
	}
	u.busy = to.busy - from.busy
	for _, name := range []string{"bench", "PostgreSQL", "broker", "Kafka Connect"} {
		t, ok := to.trees[name]
		f, ok0 := from.trees[name]
		if ok && ok0 {
			u.used[name] = t - f
		}
	}
	return u
}

// format gives the cores each tree used on average, and the rest of the machine ("others": other people's load).
func (u cpuUse) format() string {
	if u.wall <= 0 || u.busy <= 0 {
		return "CPU: n/a (no /proc)"
	}
	var parts []string
	ours := 0.0
	for _, name := range []string{"bench", "PostgreSQL", "broker", "Kafka Connect"} {
		if t, ok := u.used[name]; ok {
			ours += t
			parts = append(parts, fmt.Sprintf("%s %.2f", name, t/u.wall))
		}
	}
	parts = append(parts, fmt.Sprintf("others %.2f", max(u.busy-ours, 0)/u.wall))
	return fmt.Sprintf("CPU (cores of %d): busy %.2f = %s", runtime.NumCPU(), u.busy/u.wall, strings.Join(parts, ", "))
}

// add sums two phases' use.
func (u cpuUse) add(v cpuUse) cpuUse {
	sum := cpuUse{used: map[string]float64{}, wall: u.wall + v.wall, busy: u.busy + v.busy}
	for k, t := range u.used {
		sum.used[k] += t
	}
	for k, t := range v.used {
		sum.used[k] += t
	}
	return sum
}

// machineBusy is the CPU time of all cores not idle or waiting for I/O, from /proc/stat, in seconds.
func machineBusy() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

// procStat returns the parent pid and the CPU seconds of pid, plus its reaped children's when reaped is set.
func procStat(pid int, reaped bool) (ppid int, cpu float64, ok bool) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may hold spaces: fields start after the last ')'.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	fields := []int{11, 12} // utime, stime
	if reaped {
		fields = append(fields, 13, 14) // cutime, cstime
	}
	for _, k := range fields {
		n, _ := strconv.ParseFloat(f[k], 64)
		cpu += n
	}
	return ppid, cpu / clockTicks, true
}

func childrenByParent() map[int][]int {
	out := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(pid, false); ok {
			out[ppid] = append(out[ppid], pid)
		}
	}
	return out
}

// ownCPU is the CPU seconds of process pid alone (threads included, children not), -1 when it is not running.
func ownCPU(pid int) float64 {
	_, cpu, ok := procStat(pid, false)
	if pid <= 0 || !ok {
		return -1
	}
	return cpu
}

// treeCPU is the CPU seconds of pid and its descendants (living ones, and the reaped ones through cutime), -1 when
// it is not running.
func treeCPU(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	children := childrenByParent()
	var sum func(p int) float64
	sum = func(p int) float64 {
		_, cpu, ok := procStat(p, true)
		if !ok {
			return 0
		}
		for _, c := range children[p] {
			cpu += sum(c)
		}
		return cpu
	}
	return sum(pid)
}

// postmasterPid reads the first line of a data directory's postmaster.pid.
func postmasterPid(dataDir string) int {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}
