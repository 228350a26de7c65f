package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// binary is the perftarget program, built once by TestMain; the tests run it as operators do.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perftarget-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "perftarget")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build perftarget:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(before, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func waitGoroutines(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("goroutine leak: %d running, %d at start\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// freePort returns a loopback port nobody listens on at the moment of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "benchpipe.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// output collects what the program writes; exec's own copying goroutine fills it and Wait waits for that.
type output = testenv.Buffer

type process struct {
	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{} // closed when Wait returned
	err            error         // Wait's result, set before exited is closed
}

// launch starts the binary; the test ends it (or it ends itself) and the cleanup kills it otherwise.
func launch(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), stdout: &output{}, stderr: &output{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owned by the process value: its cleanup waits on exited
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("perftarget stderr:\n%s", p.stderr)
		}
	})
	return p
}

// exitCode waits up to timeout for the process to end and returns its exit status.
func (p *process) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("perftarget still running after %s", timeout)
	}
	if p.err != nil {
		if ee, ok := p.err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// waitLog waits for a log line containing s and returns it.
func (p *process) waitLog(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for line := range strings.SplitSeq(p.stderr.String(), "\n") {
			if strings.Contains(line, s) {
				return line
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("perftarget exited (%v) before logging %q", p.err, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after %s", s, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// The program starts from a config file with flag overrides, serves MQTT with a password from the environment,
// metrics and health, and stops cleanly on SIGTERM.
func TestRunAndSIGTERM(t *testing.T) {
	mqttPort, natsPort, monitorPort, metricsPort := freePort(t), freePort(t), freePort(t), freePort(t)
	const password = "pw-never-logged-7f3c"
	cfg := writeConfig(t, fmt.Sprintf(`
perftarget:
  host: 127.0.0.1
  mqtt_port: 1               # overridden by --mqtt-port
  nats_port: %d
  monitor_port: %d
  metrics_addr: 127.0.0.1:1  # overridden by --metrics-addr
  username: bench
  password: ${PERFTARGET_TEST_PASSWORD}
`, natsPort, monitorPort))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	p := launch(t, []string{"PERFTARGET_TEST_PASSWORD=" + password},
		"--config", cfg, "--mqtt-port", strconv.Itoa(mqttPort), "--metrics-addr", metricsAddr)

	line := p.waitLog(t, "msg=listening", 30*time.Second)
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", mqttPort)
	for _, want := range []string{"mqtt=" + mqttAddr, "user=bench", "metrics=http://" + metricsAddr} {
		if !strings.Contains(line, want) {
			t.Errorf("listening line %q lacks %q", line, want)
		}
	}

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("bin").
		SetProtocolVersion(4).SetUsername("bench").SetPassword(password).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT connect: %v", tok.Error())
	}
	for i := range 3 {
		if tok := c.Publish("bench/bin", 1, false, strconv.Itoa(i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	// The counts of a connection reach the totals a moment after the PUBACK; poll until they do.
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		code, body = get(t, "http://"+metricsAddr+"/metrics")
		if strings.Contains(body, "perftarget_messages_received_total 3\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Disconnect(250)
	if code != http.StatusOK || !strings.Contains(body, "perftarget_messages_received_total 3\n") ||
		!strings.Contains(body, "perftarget_mqtt_connections 1\n") {
		t.Errorf("/metrics = %d, want 3 messages received and 1 MQTT connection:\n%s", code, body)
	}
	if code, body := get(t, "http://"+metricsAddr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/varz", monitorPort)); code != http.StatusOK {
		t.Errorf("monitor /varz on the configured port = %d", code)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "msg=stopped") {
		t.Error("no 'stopped' in the log")
	}
	if strings.Contains(logs, password) {
		t.Error("the log contains the password")
	}
}

// Problems an operator can fix end the program with status 1 and a message saying what to change.
func TestStartFailures(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	missing := filepath.Join(t.TempDir(), "missing-cert.pem")

	base := "perftarget:\n  host: 127.0.0.1\n  mqtt_port: 0\n  nats_port: 0\n  monitor_port: -1\n  metrics_addr: \"\"\n"
	for _, tc := range []struct {
		name string
		yaml string
		args []string
		want []string
	}{
		{"MQTT port taken", base, []string{"--mqtt-port", port}, []string{"127.0.0.1:" + port, "address already in use", "--mqtt-port"}},
		{"NATS port taken", base, []string{"--nats-port", port}, []string{"127.0.0.1:" + port, "--nats-port"}},
		{"metrics port taken", base, []string{"--metrics-addr", "127.0.0.1:" + port}, []string{"127.0.0.1:" + port, "--metrics-addr"}},
		{"unreadable certificate", base + "  tls: {enabled: true, cert_file: " + missing + ", key_file: " + missing + "}\n", nil,
			[]string{missing, "perftarget.tls.cert_file"}},
		{"bad config", "perftarget:\n  mqtt_prot: 1\n", nil, []string{"mqtt_prot: unknown key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := launch(t, nil, append([]string{"--config", writeConfig(t, tc.yaml)}, tc.args...)...)
			if code := p.exitCode(t, 15*time.Second); code != 1 {
				t.Errorf("exit status = %d, want 1", code)
			}
			for _, want := range tc.want {
				if !strings.Contains(p.stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
				}
			}
		})
	}
}

// TestExampleConfig: the example file's sink section wants ${DATABASE_URL}; the perftarget does not read it, so the
// file is good for it without that variable (here it gets as far as the taken port).
func TestExampleConfig(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	p := launch(t, []string{"DATABASE_URL=", "PERFTARGET_PASSWORD="}, "--config", "../config/benchpipe.example.yaml",
		"--host", "127.0.0.1", "--mqtt-port", port, "--nats-port", "0", "--monitor-port", "-1", "--metrics-addr", "")
	if code := p.exitCode(t, 15*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "address already in use") ||
		strings.Contains(p.stderr.String(), "DATABASE_URL") {
		t.Errorf("exit %d, stderr:\n%s", code, p.stderr)
	}
}

func TestHelp(t *testing.T) {
	p := launch(t, nil, "--help")
	if code := p.exitCode(t, 5*time.Second); code != 0 {
		t.Errorf("--help exit status = %d, want 0", code)
	}
	out := p.stdout.String()
	for _, want := range []string{"MQTT 3.1.1", "-config", "-host", "-mqtt-port", "-nats-port", "-monitor-port",
		"-store-dir", "-server-name", "-metrics-addr", "(default 1883)", "PERFTARGET_PASSWORD", "Example:"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--password", "x"}, "perftarget: unknown flag --password"}, // never on the command line
		{[]string{"--mqtt-port", "mqtt"}, `perftarget: --mqtt-port "mqtt": not a whole number`},
		{[]string{"--log-level", "loud"}, `perftarget: --log-level "loud" is not debug, info, warn or error`},
		{[]string{"serve"}, `perftarget: unexpected argument "serve" (perftarget takes flags only)`},
	} {
		p = launch(t, nil, tc.args...)
		want := tc.want + "\nRun 'perftarget --help' for usage.\n"
		if code := p.exitCode(t, 5*time.Second); code != 2 || p.stderr.String() != want {
			t.Errorf("perftarget %q: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", tc.args, code, p.stderr, want)
		}
	}
}
