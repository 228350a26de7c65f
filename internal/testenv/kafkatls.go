package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
)

// SASLSSLComposeFile is the compose override that gives the kafka service a SASL_SSL listener (DEVICES) for edge
// devices; the tests load it on top of docker-compose.yml, as an operator does with -f or COMPOSE_FILE.
const SASLSSLComposeFile = "docker-compose.sasl-ssl.yml"

// Names of the files docker-compose.sasl-ssl.yml reads from $KAFKA_TLS_DIR, and that WriteKafkaTLS writes.
const (
	KafkaTLSServerPEM = "server.pem" // the broker's private key (PKCS#8) followed by its certificate chain
	KafkaTLSCAPEM     = "ca.pem"     // the CA that signed it: the devices' kafka.tls.ca_file
)

// WriteKafkaTLS writes a fresh CA and a broker certificate for 127.0.0.1 and localhost into dir, in the layout
// docker-compose.sasl-ssl.yml mounts (KafkaTLSServerPEM, KafkaTLSCAPEM). The key is unencrypted: the broker reads
// it as a PEM keystore without a password, and the directory must be readable only by the broker's user.
func WriteKafkaTLS(dir string) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "benchpipe test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kafka"},
		DNSNames:     []string{"localhost", "kafka"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	server := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	server = append(server, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	server = append(server, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(filepath.Join(dir, KafkaTLSServerPEM), server, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, KafkaTLSCAPEM), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
}

// SecureKafka is a broker started from docker-compose.yml with docker-compose.sasl-ssl.yml on top: its DEVICES
// listener speaks SASL_SSL with SCRAM-SHA-512, and one device user exists. A test-only SCRAM listener
// (SASL_PLAINTEXT, SCRAM-SHA-512) takes the same users.
type SecureKafka struct {
	*KafkaBroker
	CAFile   string // the CA of the broker's certificate
	User     string
	Password string
}

// The device user the secure broker knows. The password has characters SCRAM must escape (= and ,).
const (
	KafkaDeviceUser     = "device-1"
	KafkaDevicePassword = "dev=ice,pass word"
)

// ApacheKafkaSASLSSL returns the package's shared secure broker (started on first use, stopped by Main).
func ApacheKafkaSASLSSL(tb testing.TB) *SecureKafka {
	tb.Helper()
	b := sharedKafkaBroker(tb, SASLSSLComposeFile, func(ctx context.Context, java, mvn string) (*KafkaBroker, error) {
		dir, err := os.MkdirTemp("", "benchpipe-kafka-tls-")
		if err != nil {
			return nil, err
		}
		if err := WriteKafkaTLS(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		b, err := StartKafkaBroker(ctx, java, mvn, KafkaBrokerOptions{
			ComposeFiles: []string{"docker-compose.yml", SASLSSLComposeFile},
			Env:          map[string]string{"KAFKA_TLS_DIR": dir},
			SCRAMUsers:   map[string]string{KafkaDeviceUser: KafkaDevicePassword},
			// The same users over SASL without TLS, to test kafka.sasl alone.
			SCRAMListener: "SCRAM",
		})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		b.extraDirs = append(b.extraDirs, dir)
		return b, nil
	})
	return &SecureKafka{KafkaBroker: b, CAFile: filepath.Join(b.extraDirs[0], KafkaTLSCAPEM), User: KafkaDeviceUser, Password: KafkaDevicePassword}
}

// DeviceConfig is the kafka section an edge device uses for the DEVICES listener: TLS with the CA, SCRAM-SHA-512.
func (s *SecureKafka) DeviceConfig(tb testing.TB) config.Kafka {
	tb.Helper()
	return config.Kafka{
		Brokers:  []string{s.Addr(tb, "DEVICES")},
		ClientID: "benchpipe",
		TLS:      config.TLS{Enabled: true, CAFile: s.CAFile},
		SASL:     config.SASL{Mechanism: "SCRAM-SHA-512", Username: s.User, Password: s.Password},
	}
}

// SCRAMConfig is the kafka section for the test-only SCRAM listener: SASL/SCRAM-SHA-512 without TLS.
func (s *SecureKafka) SCRAMConfig(tb testing.TB) config.Kafka {
	tb.Helper()
	k := s.DeviceConfig(tb)
	k.Brokers = []string{s.Addr(tb, "SCRAM")}
	k.TLS = config.TLS{}
	return k
}

// String names the broker for test logs.
func (s *SecureKafka) String() string {
	return fmt.Sprintf("Apache Kafka %s SASL_SSL on %s", s.Version, s.Listeners["DEVICES"])
}

// ConsumeWith is Consume with a kafka section's connection settings (TLS, SASL), built as the programs build them.
func ConsumeWith(tb testing.TB, k config.Kafka, topic string, want int, timeout time.Duration) []*kgo.Record {
	tb.Helper()
	opts, err := kafkaopt.Options(k)
	if err != nil {
		tb.Fatalf("testenv: kafka options: %v", err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		tb.Fatalf("testenv: kafka client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}
