// Package hostinfo collects the facts about the load-generating machine that go into every run_started record
// (schema.Host): hostname, OS, kernel, architecture, CPU model and count, memory, and the device model — on a
// Raspberry Pi its name from the device tree, on a PC or server the DMI product name.
//
// Everything comes from files Linux provides (/etc/os-release, /proc, /sys); a fact whose file is missing (another
// OS, a container without /sys) is left empty rather than guessed. The parsers work on file contents, so they are
// tested on samples from machines the tests do not run on.
package hostinfo

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/benchpipe/benchpipe/schema"
)

// Collect returns the facts about this machine.
func Collect() schema.Host {
	h := collect("/")
	h.Hostname, _ = os.Hostname()
	h.Arch = archString(runtime.GOARCH, buildSetting("GOARM"))
	if h.CPUCores == 0 {
		h.CPUCores = runtime.NumCPU()
	}
	return h
}

// collect reads the file-based facts below root, so tests can point it at a directory of samples.
func collect(root string) schema.Host {
	read := func(path string) []byte {
		b, _ := os.ReadFile(filepath.Join(root, path))
		return b
	}
	var h schema.Host
	h.OS = parseOSRelease(read("etc/os-release"))
	if h.OS == "" {
		h.OS = parseOSRelease(read("usr/lib/os-release")) // where os-release(5) says to look next
	}
	// /proc/sys/kernel/osrelease is what uname(2) reports as the release (uname -r).
	h.Kernel = strings.TrimSpace(string(read("proc/sys/kernel/osrelease")))
	h.CPUModel, h.CPUCores = parseCPUInfo(read("proc/cpuinfo"))
	h.MemoryBytes = parseMemTotal(read("proc/meminfo"))
	h.DeviceModel = deviceTreeModel(read("proc/device-tree/model"))
	if h.DeviceModel == "" {
		h.DeviceModel = deviceTreeModel(read("sys/firmware/devicetree/base/model"))
	}
	if h.DeviceModel == "" {
		h.DeviceModel = dmiModel(read("sys/class/dmi/id/sys_vendor"), read("sys/class/dmi/id/product_name"))
	}
	return h
}

// parseOSRelease returns PRETTY_NAME from an os-release file, falling back to NAME VERSION_ID.
func parseOSRelease(b []byte) string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vars[k] = unquoteShell(v)
	}
	if v := vars["PRETTY_NAME"]; v != "" {
		return v
	}
	return strings.TrimSpace(vars["NAME"] + " " + vars["VERSION_ID"])
}

// unquoteShell undoes os-release's shell-style quoting: "…" with backslash escapes, or '…'.
func unquoteShell(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var sb strings.Builder
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			sb.WriteByte(inner[i])
		}
		return sb.String()
	}
	return v
}

// parseCPUInfo returns the CPU model and the number of logical CPUs from /proc/cpuinfo.
//
// x86 kernels print a "model name" per CPU. ARM kernels print the core's implementer and part numbers, which name
// the core exactly (a Raspberry Pi 4's 0x41/0xd08 is a Cortex-A72); 32-bit ARM kernels also print a generic
// "model name" ("ARMv7 Processor rev 3 (v7l)"), and Raspberry Pi kernels add "Hardware" (the SoC family) and
// "Model" (the board). The most specific of these wins.
func parseCPUInfo(b []byte) (model string, cores int) {
	var modelName, implementer, part, hardware, board string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			cores++
		case "model name", "cpu model": // "cpu model" on MIPS
			if modelName == "" {
				modelName = v
			}
		case "CPU implementer":
			if implementer == "" {
				implementer = v
			}
		case "CPU part":
			if part == "" {
				part = v
			}
		case "Hardware":
			hardware = v
		case "Model":
			board = v
		}
	}
	if name := armCoreName(implementer, part); name != "" {
		return name, cores
	}
	for _, m := range []string{modelName, hardware, board} {
		if m != "" {
			return m, cores
		}
	}
	return "", cores
}

// armCores names the Arm Ltd. (implementer 0x41) cores found in single-board computers and ARM servers, by the
// part numbers Arm publishes in each core's technical reference manual (MIDR_EL1.PartNum).
var armCores = map[string]string{
	"0xb76": "ARM1176",    // Raspberry Pi 1, Zero
	"0xc07": "Cortex-A7",  // Raspberry Pi 2
	"0xc08": "Cortex-A8",  // BeagleBone
	"0xc09": "Cortex-A9",  // i.MX6
	"0xc0f": "Cortex-A15", // Exynos 5
	"0xd03": "Cortex-A53", // Raspberry Pi 3, Zero 2
	"0xd04": "Cortex-A35", // i.MX8QXP
	"0xd05": "Cortex-A55", // RK3566/RK3568
	"0xd07": "Cortex-A57", // Jetson Nano
	"0xd08": "Cortex-A72", // Raspberry Pi 4, 400, CM4
	"0xd09": "Cortex-A73", // Amlogic S922X
	"0xd0a": "Cortex-A75",
	"0xd0b": "Cortex-A76",  // Raspberry Pi 5, RK3588
	"0xd0c": "Neoverse-N1", // AWS Graviton2, Ampere Altra
	"0xd0d": "Cortex-A77",
	"0xd40": "Neoverse-V1", // AWS Graviton3
	"0xd41": "Cortex-A78",
	"0xd49": "Neoverse-N2",
}

func armCoreName(implementer, part string) string {
	if implementer != "0x41" {
		return ""
	}
	if name, ok := armCores[strings.ToLower(part)]; ok {
		return name
	}
	return ""
}

// parseMemTotal returns MemTotal from /proc/meminfo in bytes.
func parseMemTotal(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		if len(fields) > 1 && fields[1] == "kB" { // the kernel always says kB, meaning KiB
			n *= 1024
		}
		return n
	}
	return 0
}

// deviceTreeModel cleans the device tree's model property: a NUL-terminated string.
func deviceTreeModel(b []byte) string {
	return strings.TrimSpace(string(bytes.TrimRight(b, "\x00\n")))
}

// dmiModel combines the DMI vendor and product name ("QEMU Standard PC (Q35 + ICH9, 2009)"), dropping the
// placeholders firmware ships when the board maker left the field empty.
func dmiModel(vendor, product []byte) string {
	v, p := dmiValue(vendor), dmiValue(product)
	switch {
	case p == "":
		return ""
	case v == "" || strings.HasPrefix(strings.ToLower(p), strings.ToLower(v)):
		return p
	}
	return v + " " + p
}

func dmiValue(b []byte) string {
	s := strings.TrimSpace(string(b))
	switch strings.ToLower(s) {
	case "", "to be filled by o.e.m.", "system product name", "system manufacturer", "default string",
		"not specified", "not applicable", "none", "unknown", "o.e.m.", "oem":
		return ""
	}
	return s
}

// archString is GOARCH with the ARM version for 32-bit ARM builds, in the platform notation containers use
// ("arm/v7"): an armv6 binary on a Raspberry Pi 4 runs slower than an armv7 one, so the difference matters.
func archString(goarch, goarm string) string {
	if goarch == "arm" && goarm != "" {
		// GOARM may carry a float-ABI suffix since Go 1.22 ("7,softfloat").
		v, _, _ := strings.Cut(goarm, ",")
		return "arm/v" + v
	}
	return goarch
}

// buildSetting returns a setting recorded in the binary's build info, such as GOARM.
func buildSetting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Tools returns the versions a run record names for the program that made it: Go's, benchpipe's (when built as a
// module version, not "(devel)"), and those of the given modules built in (module path → the name to record it
// under), each left out when unknown.
func Tools(modules map[string]string) map[string]string {
	bi, _ := debug.ReadBuildInfo()
	return tools(bi, modules)
}

func tools(bi *debug.BuildInfo, modules map[string]string) map[string]string {
	out := map[string]string{"go": runtime.Version()}
	if v := moduleVersion(bi, "github.com/benchpipe/benchpipe"); v != "" && v != "(devel)" {
		out["benchpipe"] = v
	}
	for path, name := range modules {
		if v := moduleVersion(bi, path); v != "" {
			out[name] = v
		}
	}
	return out
}

// moduleVersion returns the version of a module in bi (its replacement's, when replaced), "" when unknown.
func moduleVersion(bi *debug.BuildInfo, path string) string {
	if bi == nil {
		return ""
	}
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}
