package hostinfo

import (
	"maps"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/benchpipe/benchpipe/schema"
)

func TestCollectFromSamples(t *testing.T) {
	for _, tc := range []struct {
		root string
		want schema.Host
	}{
		{"testdata/rpi4-arm64", schema.Host{
			OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.6.31+rpt-rpi-v8",
			CPUModel: "Cortex-A72", CPUCores: 4, MemoryBytes: 3885396 * 1024,
			DeviceModel: "Raspberry Pi 4 Model B Rev 1.4",
		}},
		{"testdata/rpi3-armhf", schema.Host{
			OS: "Raspbian GNU/Linux 10 (buster)", Kernel: "5.10.103-v7+",
			CPUModel: "Cortex-A53", CPUCores: 4, MemoryBytes: 948304 * 1024,
			DeviceModel: "Raspberry Pi 3 Model B Rev 1.2",
		}},
		{"testdata/x86-vm", schema.Host{
			OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.18.44-fc-v769",
			CPUModel: "AMD EPYC", CPUCores: 2, MemoryBytes: 24683620 * 1024,
			DeviceModel: "QEMU Standard PC (Q35 + ICH9, 2009)",
		}},
		{"testdata/does-not-exist", schema.Host{}},
	} {
		t.Run(tc.root, func(t *testing.T) {
			if got := collect(tc.root); got != tc.want {
				t.Errorf("collect(%s)\n got %+v\nwant %+v", tc.root, got, tc.want)
			}
		})
	}
}

func TestParseCPUInfoFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name, in, model string
		cores           int
	}{
		{"unknown arm part uses model name", "processor : 0\nmodel name : ARMv7 Processor rev 1 (v7l)\nCPU implementer : 0x41\nCPU part : 0xfff\n", "ARMv7 Processor rev 1 (v7l)", 1},
		{"other implementer, no model name: Hardware", "processor : 0\nCPU implementer : 0x51\nCPU part : 0x801\n\nHardware : Qualcomm Technologies, Inc SM8150\n", "Qualcomm Technologies, Inc SM8150", 1},
		{"only the board model", "processor\t: 0\nprocessor\t: 1\nModel\t\t: Raspberry Pi Zero 2 W Rev 1.0\n", "Raspberry Pi Zero 2 W Rev 1.0", 2},
		{"Raspberry Pi 1 core", "processor : 0\nCPU implementer : 0x41\nCPU part : 0xb76\n", "ARM1176", 1},
		{"empty", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model, cores := parseCPUInfo([]byte(tc.in))
			if model != tc.model || cores != tc.cores {
				t.Errorf("got %q, %d cores; want %q, %d", model, cores, tc.model, tc.cores)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	for in, want := range map[string]string{
		"PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n":                 "Ubuntu 24.04.1 LTS",
		"# comment\nPRETTY_NAME='Alpine Linux v3.20'\n":        "Alpine Linux v3.20",
		"PRETTY_NAME=\"Say \\\"hi\\\" OS\"\n":                  `Say "hi" OS`,
		"NAME=Fedora\nVERSION_ID=40\n":                         "Fedora 40",
		"PRETTY_NAME=Unquoted\nNAME=x\n":                       "Unquoted",
		"":                                                     "",
		"garbage without equals\nPRETTY_NAME=\"Arch Linux\"\n": "Arch Linux",
	} {
		if got := parseOSRelease([]byte(in)); got != want {
			t.Errorf("parseOSRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMemTotal(t *testing.T) {
	for in, want := range map[string]int64{
		"MemTotal:        3885396 kB\n": 3885396 * 1024,
		"MemFree: 1 kB\nMemTotal: 2 kB": 2048,
		"MemTotal: x kB\n":              0,
		"":                              0,
	} {
		if got := parseMemTotal([]byte(in)); got != want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestDMIModel(t *testing.T) {
	for _, tc := range []struct{ vendor, product, want string }{
		{"Dell Inc.\n", "PowerEdge R740\n", "Dell Inc. PowerEdge R740"},
		{"System manufacturer\n", "System Product Name\n", ""},
		{"To be filled by O.E.M.\n", "NUC8i5BEH\n", "NUC8i5BEH"},
		{"HP\n", "HP EliteDesk 800 G4\n", "HP EliteDesk 800 G4"},
		{"", "", ""},
	} {
		if got := dmiModel([]byte(tc.vendor), []byte(tc.product)); got != tc.want {
			t.Errorf("dmiModel(%q, %q) = %q, want %q", tc.vendor, tc.product, got, tc.want)
		}
	}
}

func TestArchString(t *testing.T) {
	for _, tc := range []struct{ goarch, goarm, want string }{
		{"arm", "7", "arm/v7"},
		{"arm", "6,softfloat", "arm/v6"},
		{"arm", "", "arm"},
		{"arm64", "", "arm64"},
		{"amd64", "", "amd64"},
	} {
		if got := archString(tc.goarch, tc.goarm); got != tc.want {
			t.Errorf("archString(%q, %q) = %q, want %q", tc.goarch, tc.goarm, got, tc.want)
		}
	}
}

// TestCollectHere checks the live path on whatever machine runs the tests: the facts every Linux has.
func TestCollectHere(t *testing.T) {
	h := Collect()
	if h.Hostname == "" || h.Arch == "" || h.CPUCores < 1 {
		t.Errorf("Collect() = %+v: hostname, arch and cores must always be set", h)
	}
	if runtime.GOOS == "linux" && (h.Kernel == "" || h.MemoryBytes <= 0 || h.CPUModel == "") {
		t.Errorf("Collect() on Linux = %+v: kernel, memory and CPU model missing", h)
	}
	t.Logf("this machine: %+v", h)
}

// Tools names Go's version, benchpipe's when it is a module version, and the modules asked for that are built in
// (a replaced one by its replacement's version); nothing for the others.
func TestTools(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/benchpipe/benchpipe", Version: "v0.20.0"},
		Deps: []*debug.Module{
			{Path: "github.com/eclipse/paho.mqtt.golang", Version: "v1.5.1"},
			{Path: "github.com/example/forked", Version: "v1.0.0", Replace: &debug.Module{Path: "../fork", Version: "v1.0.1-fix"}},
		},
	}
	got := tools(bi, map[string]string{"github.com/eclipse/paho.mqtt.golang": "paho.mqtt.golang", "github.com/example/forked": "forked", "example.com/not/linked": "nope"})
	want := map[string]string{"go": runtime.Version(), "benchpipe": "v0.20.0", "paho.mqtt.golang": "v1.5.1", "forked": "v1.0.1-fix"}
	if !maps.Equal(got, want) {
		t.Errorf("tools = %v, want %v", got, want)
	}
	bi.Main.Version = "(devel)"
	if got := tools(bi, nil); !maps.Equal(got, map[string]string{"go": runtime.Version()}) {
		t.Errorf("a (devel) build: tools = %v, want Go's version only", got)
	}
	if got := tools(nil, map[string]string{"x": "x"}); !maps.Equal(got, map[string]string{"go": runtime.Version()}) {
		t.Errorf("no build info: tools = %v", got)
	}
}
