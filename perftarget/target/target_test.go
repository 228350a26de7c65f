package target_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/perftarget/target"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// TestMain fails the package when a test leaves goroutines behind: every server is shut down and every client
// disconnected by the test that made it.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(before, 10*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
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

// logBuffer collects a server's log; the test prints it when it fails. Writing to t.Log directly would panic
// if a server goroutine logged after the test returned.
type logBuffer = testenv.Buffer

// start runs a server on random loopback ports and shuts it down when the test ends.
func start(t *testing.T, opts target.Options) *target.Server {
	t.Helper()
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	for _, p := range []*int{&opts.MQTTPort, &opts.NATSPort} {
		if *p == 0 {
			*p = -1
		}
	}
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := target.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return s
}

// client connects a paho MQTT 3.1.1 client and disconnects it when the test ends.
func client(t *testing.T, broker, id string, configure ...func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	c, err := dial(broker, id, configure...)
	if err != nil {
		t.Fatalf("connect %s to %s: %v", id, broker, err)
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func dial(broker, id string, configure ...func(*mqtt.ClientOptions)) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	for _, f := range configure {
		f(o)
	}
	c := mqtt.NewClient(o)
	if err := wait(c.Connect()); err != nil {
		return nil, err
	}
	return c, nil
}

func wait(tok mqtt.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("timed out")
	}
	return tok.Error()
}

type received struct {
	payload  string
	qos      byte
	retained bool
}

func subscribe(t *testing.T, c mqtt.Client, topic string, qos byte) <-chan received {
	t.Helper()
	ch := make(chan received, 1000)
	err := wait(c.Subscribe(topic, qos, func(_ mqtt.Client, m mqtt.Message) {
		ch <- received{payload: string(m.Payload()), qos: m.Qos(), retained: m.Retained()}
	}))
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return ch
}

func next(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return received{}
	}
}

func TestPubSubQoS(t *testing.T) {
	s := start(t, target.Options{MonitorPort: -1})
	broker := "tcp://" + s.MQTTAddr()
	sub := client(t, broker, "sub")
	pub := client(t, broker, "pub")

	const n = 50
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("bench/qos%d", qos)
			ch := subscribe(t, sub, topic, qos)
			for i := range n {
				if err := wait(pub.Publish(topic, qos, false, strconv.Itoa(i))); err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
			for i := range n {
				m := next(t, ch)
				if m.payload != strconv.Itoa(i) || m.qos != qos {
					t.Fatalf("message %d = %q at QoS %d, want %q at QoS %d", i, m.payload, m.qos, strconv.Itoa(i), qos)
				}
			}
		})
	}

	// nats-server counts each MQTT PUBLISH once, whatever its QoS, and does not count deliveries to MQTT
	// subscribers (see Stats), so only the inbound side is asserted. A connection's counts reach the totals
	// after the server has handled what it read, which may be a moment after the last delivery.
	var st target.Stats
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st = s.Stats(); st.InMsgs >= 3*n || time.Now().After(deadline) {
			break
		}
	}
	if st.InMsgs != 3*n || st.InBytes < 3*n {
		t.Errorf("Stats in = %d msgs / %d bytes, want %d msgs", st.InMsgs, st.InBytes, 3*n)
	}
	if st.MQTTConnections != 2 || st.Connections < 2 || st.TotalConnections < 2 {
		t.Errorf("Stats connections = %+v, want 2 MQTT connections", st)
	}
	if st.JetStreamStore == 0 && st.JetStreamMemory == 0 {
		t.Errorf("Stats JetStream = 0 bytes; MQTT sessions and QoS 1/2 messages live there")
	}
}

// A retained message reaches subscribers that come after it. nats-server acknowledges the PUBLISH once the
// message is stored in JetStream but indexes it for new subscriptions a moment later, asynchronously; a
// subscription made in that moment does not get it, so a fresh subscriber retries until it does.
func TestRetainedReachesLateSubscriber(t *testing.T) {
	s := start(t, target.Options{})
	broker := "tcp://" + s.MQTTAddr()
	pub := client(t, broker, "pub")
	if err := wait(pub.Publish("bench/config", 1, true, "retained-1")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		late, err := dial(broker, fmt.Sprintf("late-%d", attempt))
		if err != nil {
			t.Fatal(err)
		}
		ch := subscribe(t, late, "bench/#", 1)
		select {
		case m := <-ch:
			late.Disconnect(250)
			if m.payload != "retained-1" || !m.retained {
				t.Errorf("late subscriber got %+v, want the retained message", m)
			}
			if attempt > 1 {
				t.Logf("the retained message reached subscriber %d", attempt)
			}
			return
		case <-time.After(200 * time.Millisecond):
			late.Disconnect(250)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscriber got the retained message within 10s (%d attempts)", attempt)
		}
	}
}

func TestPassword(t *testing.T) {
	s := start(t, target.Options{Username: "bench", Password: "s3cret"})
	broker := "tcp://" + s.MQTTAddr()
	creds := func(user, pass string) func(*mqtt.ClientOptions) {
		return func(o *mqtt.ClientOptions) { o.SetUsername(user).SetPassword(pass) }
	}
	client(t, broker, "good", creds("bench", "s3cret"))
	for name, f := range map[string]func(*mqtt.ClientOptions){
		"wrong password": creds("bench", "guess"),
		"wrong user":     creds("admin", "s3cret"),
		"anonymous":      func(*mqtt.ClientOptions) {},
	} {
		if c, err := dial(broker, "bad", f); err == nil {
			c.Disconnect(0)
			t.Errorf("%s: connected, want refused", name)
		}
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s := start(t, target.Options{TLSCertFile: certFile, TLSKeyFile: keyFile})

	c := client(t, "ssl://"+s.MQTTAddr(), "tls", func(o *mqtt.ClientOptions) {
		o.SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	})
	ch := subscribe(t, c, "bench/tls", 1)
	if err := wait(c.Publish("bench/tls", 1, false, "secret")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ch); m.payload != "secret" {
		t.Errorf("got %q", m.payload)
	}

	if c, err := dial("tcp://"+s.MQTTAddr(), "plain", func(o *mqtt.ClientOptions) { o.SetConnectTimeout(2 * time.Second) }); err == nil {
		c.Disconnect(0)
		t.Error("plain MQTT connected to the TLS listener")
	}
}

func TestTLSBadCertificate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, err := target.Start(target.Options{Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1, TLSCertFile: missing, TLSKeyFile: missing})
	if !errors.Is(err, target.ErrTLSCertificate) || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v, want ErrTLSCertificate naming %s", err, missing)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "perftarget test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// storeDir asks the monitoring endpoint where JetStream keeps its store: the "jetstream" directory nats-server
// makes inside the StoreDir it was given.
func storeDir(t *testing.T, s *target.Server) string {
	t.Helper()
	resp, err := http.Get(s.MonitorURL() + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		JetStream struct {
			Config struct {
				StoreDir string `json:"store_dir"`
			} `json:"config"`
		} `json:"jetstream"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.JetStream.Config.StoreDir
}

// storeSomething makes JetStream write to its store: a retained message.
func storeSomething(t *testing.T, s *target.Server) {
	t.Helper()
	c, err := dial("tcp://"+s.MQTTAddr(), "store")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(250)
	if err := wait(c.Publish("bench/keep", 1, true, "x")); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDir(t *testing.T) {
	t.Run("given", func(t *testing.T) {
		dir := t.TempDir()
		s := start(t, target.Options{StoreDir: dir, MonitorPort: -1})
		if got, want := storeDir(t, s), filepath.Join(dir, "jetstream"); got != want {
			t.Errorf("store_dir = %q, want %q", got, want)
		}
		storeSomething(t, s)
		s.Shutdown()
		if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
			t.Errorf("given store was not kept: %v", err)
		}
	})
	t.Run("temporary", func(t *testing.T) {
		s := start(t, target.Options{MonitorPort: -1})
		dir := filepath.Dir(storeDir(t, s))
		if !strings.HasPrefix(dir, os.TempDir()) {
			t.Fatalf("temporary store %q is not under %s", dir, os.TempDir())
		}
		storeSomething(t, s)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("temporary store missing while running: %v", err)
		}
		s.Shutdown()
		s.Shutdown() // idempotent
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary store %s still there after Shutdown (err %v)", dir, err)
		}
	})
}

// A listener that can't bind fails Start at once with a ListenError naming the listener and address.
func TestListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		listener string
		opts     target.Options
	}{
		{"mqtt", target.Options{MQTTPort: port, NATSPort: -1}},
		{"nats", target.Options{MQTTPort: -1, NATSPort: port}},
		{"monitor", target.Options{MQTTPort: -1, NATSPort: -1, MonitorPort: port}},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			tc.opts.Host = "127.0.0.1"
			began := time.Now()
			s, err := target.Start(tc.opts)
			if err == nil {
				s.Shutdown()
				t.Fatal("Start succeeded on a taken port")
			}
			var le *target.ListenError
			if !errors.As(err, &le) || le.Listener != tc.listener || le.Addr != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
				t.Fatalf("err = %v, want a ListenError for %s on port %d", err, tc.listener, port)
			}
			if tc.listener != "monitor" && !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("err = %v, want EADDRINUSE", err)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Start took %s to fail", d)
			}
		})
	}
}

func TestURLs(t *testing.T) {
	s := start(t, target.Options{})
	if s.MonitorURL() != "" {
		t.Errorf("MonitorURL = %q with monitoring off", s.MonitorURL())
	}
	for _, u := range []string{"tcp://" + s.MQTTAddr(), s.NATSURL()} {
		host, port, ok := strings.Cut(strings.SplitN(u, "://", 2)[1], ":")
		if !ok || host != "127.0.0.1" || port == "0" || port == "-1" {
			t.Errorf("address %q is not a bound loopback port", u)
		}
	}
	nats, err := net.Dial("tcp", strings.TrimPrefix(s.NATSURL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Close()
	line := make([]byte, 5)
	if _, err := nats.Read(line); err != nil || string(line) != "INFO " {
		t.Errorf("NATS listener said %q, %v; want INFO", line, err)
	}
	if err := s.Healthz(); err != nil {
		t.Errorf("Healthz: %v", err)
	}
	s.Shutdown()
	if err := s.Healthz(); err == nil {
		t.Error("Healthz is nil after Shutdown")
	}
	if st := s.Stats(); st != (target.Stats{}) {
		t.Errorf("Stats after Shutdown = %+v, want zero", st)
	}
}

func TestFromConfig(t *testing.T) {
	def := config.Default().Perftarget
	for _, tc := range []struct {
		name string
		edit func(*config.Perftarget)
		want target.Options
	}{
		{"defaults", func(*config.Perftarget) {}, target.Options{
			ServerName: "benchpipe-perftarget", Host: "0.0.0.0", MQTTPort: 1883, NATSPort: 4222, MonitorPort: 8222}},
		{"zero ports are random, monitor -1 is off", func(c *config.Perftarget) {
			c.MQTTPort, c.NATSPort, c.MonitorPort = 0, 0, -1
		}, target.Options{ServerName: "benchpipe-perftarget", Host: "0.0.0.0", MQTTPort: -1, NATSPort: -1, MonitorPort: 0}},
		{"auth and TLS", func(c *config.Perftarget) {
			c.Username, c.Password, c.StoreDir = "u", "p", "/var/lib/js"
			c.TLS = config.TLS{Enabled: true, CertFile: "c.pem", KeyFile: "k.pem"}
		}, target.Options{ServerName: "benchpipe-perftarget", Host: "0.0.0.0", MQTTPort: 1883, NATSPort: 4222, MonitorPort: 8222,
			StoreDir: "/var/lib/js", Username: "u", Password: "p", TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}},
		{"TLS files ignored unless enabled", func(c *config.Perftarget) {
			c.TLS = config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}
		}, target.Options{ServerName: "benchpipe-perftarget", Host: "0.0.0.0", MQTTPort: 1883, NATSPort: 4222, MonitorPort: 8222}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := def
			tc.edit(&c)
			if got := target.FromConfig(c); got != tc.want {
				t.Errorf("FromConfig = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// NATS MQTT speaks 3.1.1 only; paho's 3.1 (protocol version 3) is refused.
func TestRefusesMQTT31(t *testing.T) {
	s := start(t, target.Options{})
	if c, err := dial("tcp://"+s.MQTTAddr(), "v31", func(o *mqtt.ClientOptions) { o.SetProtocolVersion(3) }); err == nil {
		c.Disconnect(0)
		t.Error("an MQTT 3.1 client connected")
	}
}
