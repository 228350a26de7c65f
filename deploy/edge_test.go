package deploy_test

// Edge devices: the systemd units pass `systemd-analyze verify` (apt-get install -y systemd; skipped with the
// reason when absent) and keep their hardening; the shell scripts pass bash -n and shellcheck; the installer is
// run for real into a temporary prefix, twice, to check what it installs and that a second run upgrades without
// touching the operator's configuration.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/producer/agent"
)

// unitFile is a parsed systemd unit: section → key → values (a key may repeat).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, file string) unitFile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Errorf("%s: bad line %q", file, line)
				continue
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

var edgeUnits = []string{"benchpipe-producer@.service", "benchpipe-producer@.timer", "benchpipe-spool-flush.service", "benchpipe-spool-flush.timer", "benchpipe-agent.service"}

func TestSystemdUnitsVerify(t *testing.T) {
	analyze := lookTool(t, "systemd-analyze", "apt-get install -y systemd")
	// verify needs the ExecStart binaries to exist and instances, not templates: copies with the producer
	// replaced by /bin/true and the templates instantiated as @check.
	dir := t.TempDir()
	var args []string
	for _, u := range edgeUnits {
		data := strings.ReplaceAll(readFile(t, "deploy/systemd", u), "/usr/local/bin/producer", "/bin/true")
		name := strings.Replace(u, "@.", "@check.", 1)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, filepath.Join(dir, name))
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, args...)...)
	cmd.Dir = dir
	// SYSTEMD_LOG_LEVEL: unknown keys and bad values are only warnings, which must fail the test too.
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdUnitsHardened(t *testing.T) {
	for _, name := range edgeUnits {
		u := parseUnit(t, path(t, "deploy/systemd", name))
		if strings.HasSuffix(name, ".timer") {
			target := strings.Replace(u.get("Timer", "Unit"), "%i", "", 1)
			if _, err := os.Stat(path(t, "deploy/systemd", target)); err != nil {
				t.Errorf("%s: Unit=%s: %v", name, u.get("Timer", "Unit"), err)
			}
			if u.get("Install", "WantedBy") != "timers.target" {
				t.Errorf("%s: WantedBy should be timers.target", name)
			}
			continue
		}
		s := u["Service"]
		for key, want := range map[string]string{
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
			"StateDirectory": "benchpipe", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
			"Environment": "BENCHPIPE_CONFIG=/etc/benchpipe/benchpipe.yaml",
		} {
			if v, ok := s[key]; !ok || v[len(v)-1] != want {
				t.Errorf("%s: %s=%v, want %q", name, key, v, want)
			}
		}
		if !slices.Contains(s["EnvironmentFile"], "/etc/benchpipe/producer.env") {
			t.Errorf("%s: EnvironmentFile=/etc/benchpipe/producer.env missing", name)
		}
		if u.get("Service", "User") == "" && u.get("Service", "DynamicUser") != "yes" {
			t.Errorf("%s: runs as root (no User= or DynamicUser=)", name)
		}
		if !strings.HasPrefix(u.get("Service", "ExecStart"), "/usr/local/bin/producer ") {
			t.Errorf("%s: ExecStart %q does not run the installed producer", name, u.get("Service", "ExecStart"))
		}
		// The agent is a service that must always come back: a restart is what reports its interrupted job.
		if name == "benchpipe-agent.service" && (u.get("Service", "ExecStart") != "/usr/local/bin/producer agent" ||
			u.get("Service", "Restart") != "always" || u.get("Unit", "StartLimitIntervalSec") != "0") {
			t.Errorf("%s: want ExecStart=/usr/local/bin/producer agent, Restart=always, StartLimitIntervalSec=0 in [Unit]", name)
		}
		// …except when another agent took its name: restarted, it would fence that one out of the jobs group.
		if name == "benchpipe-agent.service" && u.get("Service", "RestartPreventExitStatus") != fmt.Sprint(agent.ExitNameTaken) {
			t.Errorf("%s: RestartPreventExitStatus=%q, want %d (producer agent's exit status when its name is taken)",
				name, u.get("Service", "RestartPreventExitStatus"), agent.ExitNameTaken)
		}
	}
}

func TestShellScripts(t *testing.T) {
	scripts := []string{"deploy/install-producer.sh", "deploy/timescaledb/100-benchpipe-roles.sh"}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", path(t, s)).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		if fi, err := os.Stat(path(t, s)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s must be executable (the postgres entrypoint sources non-executable scripts instead)", s)
		}
	}
	shellcheck := lookTool(t, "shellcheck", "apt-get install -y shellcheck")
	for _, s := range scripts {
		if out, err := exec.Command(shellcheck, "--severity=style", path(t, s)).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}

func TestInstallProducer(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(t.TempDir(), "producer")
	writeExec := func(content string) {
		if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	install := func() string {
		t.Helper()
		out, err := exec.Command("bash", path(t, "deploy/install-producer.sh"), "--binary", bin, "--prefix", prefix).CombinedOutput()
		if err != nil {
			t.Fatalf("install-producer.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	mode := func(rel string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(filepath.Join(prefix, rel))
		if err != nil {
			t.Fatalf("not installed: %v", err)
		}
		return fi.Mode().Perm()
	}

	writeExec("#!/bin/sh\necho v1\n")
	install()
	for rel, want := range map[string]os.FileMode{
		"usr/local/bin/producer":                           0o755,
		"etc/benchpipe":                                    0o750,
		"etc/benchpipe/jobs":                               0o750,
		"etc/benchpipe/benchpipe.yaml":                     0o640,
		"etc/benchpipe/producer.env":                       0o640,
		"etc/systemd/system/benchpipe-producer@.service":   0o644,
		"etc/systemd/system/benchpipe-producer@.timer":     0o644,
		"etc/systemd/system/benchpipe-spool-flush.service": 0o644,
		"etc/systemd/system/benchpipe-spool-flush.timer":   0o644,
		"etc/systemd/system/benchpipe-agent.service":       0o644,
	} {
		if got := mode(rel); got != want {
			t.Errorf("%s: mode %o, want %o", rel, got, want)
		}
	}

	// The operator edits the configuration; a new release is installed over it.
	cfg := filepath.Join(prefix, "etc/benchpipe/benchpipe.yaml")
	edited := readFileAbs(t, cfg) + "# edited by the operator\n"
	if err := os.WriteFile(cfg, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	writeExec("#!/bin/sh\necho v2\n")
	out := install()
	if readFileAbs(t, cfg) != edited || !strings.Contains(out, "kept "+cfg) {
		t.Errorf("second run changed the operator's benchpipe.yaml:\n%s", out)
	}
	if got := readFileAbs(t, filepath.Join(prefix, "usr/local/bin/producer")); !strings.Contains(got, "v2") {
		t.Errorf("second run did not upgrade the binary: %q", got)
	}

	// The installed configuration loads with the variables producer.env documents.
	env := readEnvFile(t, "deploy/systemd/producer.env.example")
	c := parseConfig(t, path(t, "deploy/systemd/benchpipe.yaml"), env.values)
	if len(c.Kafka.Brokers) != 1 || c.Kafka.Brokers[0] != env.values["KAFKA_BROKERS"] {
		t.Errorf("edge config brokers %v, want KAFKA_BROKERS from producer.env", c.Kafka.Brokers)
	}

	if out, err := exec.Command("bash", path(t, "deploy/install-producer.sh"), "--bogus").CombinedOutput(); err == nil {
		t.Errorf("install-producer.sh --bogus succeeded:\n%s", out)
	}
}

func readFileAbs(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
