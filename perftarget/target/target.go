// Package target runs nats-server in-process as an MQTT 3.1.1 broker: the thing benchpipe's MQTT load generators
// publish to and subscribe from. It is an embedded server rather than a separate binary so that tests, the
// perftarget program and anything else that needs a broker start the same, fully configured thing with one call.
//
// NATS's MQTT support needs JetStream (sessions, retained messages and QoS 1/2 messages are stored in streams),
// so every Server has a JetStream store: a directory you give, or a temporary one that Shutdown removes.
//
// Behaviour of nats-server (2.15) that load tests notice:
//   - MQTT 3.1.1 only: clients asking for 3.1 or 5 are refused.
//   - A retained message is acknowledged once stored but indexed for new subscriptions asynchronously, so a
//     subscription made right after the PUBACK may miss it.
//   - Deliveries to MQTT subscribers are not counted by the server (see Stats).
//   - At most 1024 unacknowledged QoS 1/2 messages per subscription by default; a filter ending in "#" costs two
//     NATS subscriptions.
package target

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/nats-io/nats-server/v2/server"
)

// Standard ports, used when an Options port is 0.
const (
	DefaultMQTTPort = 1883
	DefaultNATSPort = 4222
)

// DefaultServerName is the NATS server name used when Options.ServerName is empty; it shows in logs and /varz.
const DefaultServerName = "benchpipe-perftarget"

// startTimeout bounds how long Start waits for the listeners and JetStream. JetStream recovers its store before
// the server is ready, which on an SD card with a large store takes a while.
const startTimeout = 30 * time.Second

// ErrTLSCertificate is wrapped by the error Start returns when the MQTT certificate or key can't be loaded.
var ErrTLSCertificate = errors.New("cannot load the MQTT TLS certificate")

// Options configures Start. The zero value listens on all interfaces at the standard MQTT and NATS ports, without
// monitoring, with a temporary JetStream store; tests want Host "127.0.0.1" and the ports at -1.
type Options struct {
	ServerName  string // NATS server name; "" = DefaultServerName
	Host        string // listen host for all listeners, e.g. "127.0.0.1"; "" = all interfaces
	MQTTPort    int    // -1 = a random free port, 0 = DefaultMQTTPort
	NATSPort    int    // -1 = random, 0 = DefaultNATSPort
	MonitorPort int    // NATS HTTP monitoring (/varz, /connz, /healthz): -1 = random, 0 = off
	StoreDir    string // JetStream store; "" = a fresh temp dir removed by Shutdown

	// Username and Password, when set, are required from every MQTT and NATS client.
	Username, Password string

	// TLSCertFile and TLSKeyFile (PEM), when set, make the MQTT listener TLS-only. NATS clients stay plain.
	TLSCertFile, TLSKeyFile string

	Logger *slog.Logger // receives nats-server's log; nil = discard
}

// FromConfig converts the perftarget section of the configuration file to Options. The file's conventions
// differ from Options' where the file follows what operators expect: a port of 0 there means a random port (-1
// here), and monitor_port -1 means off (0 here). TLS files are used only when tls.enabled is set.
func FromConfig(c config.Perftarget) Options {
	random := func(port int) int {
		if port == 0 {
			return -1
		}
		return port
	}
	o := Options{
		ServerName:  c.ServerName,
		Host:        c.Host,
		MQTTPort:    random(c.MQTTPort),
		NATSPort:    random(c.NATSPort),
		MonitorPort: c.MonitorPort,
		StoreDir:    c.StoreDir,
		Username:    c.Username,
		Password:    c.Password,
	}
	if c.MonitorPort < 0 {
		o.MonitorPort = 0
	}
	if c.TLS.Enabled {
		o.TLSCertFile, o.TLSKeyFile = c.TLS.CertFile, c.TLS.KeyFile
	}
	return o
}

// Server is a running embedded NATS server with its MQTT listener. Its methods are safe for concurrent use.
type Server struct {
	ns      *server.Server
	log     *natsLogger
	tempDir string // removed by Shutdown; "" when the caller gave StoreDir

	mqttAddr, natsURL, monitorURL string

	once sync.Once
}

// Start starts nats-server with JetStream and MQTT and returns once every listener accepts connections. A
// listener that can't be opened is reported as a *ListenError.
func Start(opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nopts, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}

	s := &Server{log: newNATSLogger(logger)}
	if nopts.StoreDir == "" {
		// nats-server would fall back to one shared path under the temp dir; two servers must not share a store.
		dir, err := os.MkdirTemp("", "perftarget-jetstream-")
		if err != nil {
			return nil, fmt.Errorf("create JetStream store directory: %w", err)
		}
		s.tempDir, nopts.StoreDir = dir, dir
	}

	ns, err := server.NewServer(nopts)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("configure NATS server: %w", err)
	}
	s.ns = ns
	ns.SetLoggerV2(s.log, s.log.enabled(slog.LevelDebug), s.log.enabled(levelTrace), false)

	// Start returns after opening the listeners; a failure among them is only logged (Fatalf), so the
	// logger collects it and the wait below fails fast instead of timing out.
	ns.Start()
	if err := s.waitReady(opts, nopts); err != nil {
		s.Shutdown()
		return nil, err
	}

	// The bound ports are only known now: nats-server writes random ones back into the options.
	s.mqttAddr = net.JoinHostPort(nopts.MQTT.Host, strconv.Itoa(nopts.MQTT.Port))
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		s.natsURL = "nats://" + net.JoinHostPort(nopts.Host, strconv.Itoa(a.Port))
	}
	if a := ns.MonitorAddr(); a != nil {
		s.monitorURL = "http://" + net.JoinHostPort(nopts.HTTPHost, strconv.Itoa(a.Port))
	}
	return s, nil
}

func (s *Server) waitReady(opts Options, nopts *server.Options) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if s.ns.ReadyForConnections(50 * time.Millisecond) {
			if f := s.log.finishStart(); f != nil {
				return startError(f, opts, nopts)
			}
			return nil
		}
		if f := s.log.fatalError(); f != nil {
			return startError(f, opts, nopts)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("NATS server not ready for connections after %s", startTimeout)
		}
	}
}

// serverOptions translates Options into nats-server's.
func serverOptions(opts Options) (*server.Options, error) {
	name := opts.ServerName
	if name == "" {
		name = DefaultServerName
	}
	host := opts.Host
	if host == "" {
		host = "0.0.0.0"
	}
	orDefault := func(port, def int) int {
		if port == 0 {
			return def
		}
		return port // -1 is nats-server's RANDOM_PORT for every listener
	}
	nopts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       orDefault(opts.NATSPort, DefaultNATSPort),
		HTTPHost:   host,
		HTTPPort:   opts.MonitorPort,
		Username:   opts.Username,
		Password:   opts.Password,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		// The embedding program owns the process's signals.
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		MQTT: server.MQTTOpts{
			Host:     host,
			Port:     orDefault(opts.MQTTPort, DefaultMQTTPort),
			Username: opts.Username,
			Password: opts.Password,
		},
	}
	if opts.TLSCertFile != "" || opts.TLSKeyFile != "" {
		// Load the pair here rather than in nats-server so the error names both files.
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w (cert file %q, key file %q): %w", ErrTLSCertificate, opts.TLSCertFile, opts.TLSKeyFile, err)
		}
		nopts.MQTT.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return nopts, nil
}

// MQTTAddr returns the host:port the MQTT listener is bound to (the host is the configured one, so it may be
// 0.0.0.0).
func (s *Server) MQTTAddr() string { return s.mqttAddr }

// NATSURL returns the nats:// URL of the NATS client listener.
func (s *Server) NATSURL() string { return s.natsURL }

// MonitorURL returns the http:// base URL of NATS monitoring, or "" when it is off.
func (s *Server) MonitorURL() string { return s.monitorURL }

// Healthz reports whether the server runs and JetStream, which MQTT needs, is healthy.
func (s *Server) Healthz() error {
	if !s.ns.Running() {
		return errors.New("NATS server is not running")
	}
	if h := s.ns.Healthz(&server.HealthzOptions{JSEnabledOnly: true}); h.Error != "" {
		return fmt.Errorf("NATS health: %s", h.Error)
	}
	return nil
}

// Shutdown closes every connection and listener, waits until the server has stopped, and removes a temporary
// store directory. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.removeTemp()
	})
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		if err := os.RemoveAll(s.tempDir); err != nil {
			s.log.l.Warn("remove temporary JetStream store", "dir", s.tempDir, "err", err)
		}
	}
}
