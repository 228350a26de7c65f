package mqttload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/perftarget/target"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key, and returns their paths.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mqttload test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRunTLSAndCredentials runs the command against a TLS-only target that requires a password, which comes
// from the environment and must appear nowhere in the output.
func TestRunTLSAndCredentials(t *testing.T) {
	cert, key := writeCert(t)
	const password = "s3cret-pw"
	srv, err := target.Start(target.Options{ServerName: "mqttload-tls", Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1,
		Username: "bench", Password: password, TLSCertFile: cert, TLSKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	broker := "ssl://" + srv.MQTTAddr()
	args := []string{"--config", writeEmptyConfig(t), "--broker", broker, "--username", "bench", "--rate", "200", "--count", "100", "--connect-timeout", "3s"}

	t.Setenv(EnvPassword, "wrong")
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), append(args, "--ca-file", cert), &stdout, &stderr); code != ExitFailed || !strings.Contains(stderr.String(), "cannot connect") {
		t.Fatalf("wrong password: exit %d\n%s", code, stderr.String())
	}

	t.Setenv(EnvPassword, password)
	stdout.Reset()
	stderr.Reset()
	if code := Run(context.Background(), args, &stdout, &stderr); code != ExitFailed {
		t.Fatalf("without --ca-file the self-signed certificate must be refused: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	code := Run(context.Background(), append(args, "--ca-file", cert), &stdout, &stderr)
	if code != ExitOK || !strings.Contains(stdout.String(), "received      100") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), password) {
		t.Fatal("the password appears in the output")
	}
}

// TestBrokerVersionOnNATS: NATS does not publish $SYS topics to MQTT clients; asking must not disturb the run.
func TestBrokerVersionOnNATS(t *testing.T) {
	srv := startTarget(t)
	b, err := Connect(context.Background(), Config{Broker: brokerURL(srv), Subscribers: 1, Rate: 500, Count: 100, Topic: "v/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v := b.BrokerVersion(200 * time.Millisecond); v != "" {
		t.Errorf("version %q", v)
	}
	checkComplete(t, b.Run(context.Background(), nil), 100, 1)
}
