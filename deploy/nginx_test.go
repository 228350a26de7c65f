package deploy_test

// deploy/nginx/default.conf is tested with the real nginx (apt-get install -y nginx): `nginx -t`, then a running
// nginx serving a fake viewer build and proxying to a fake Hasura, checked over HTTP and a websocket upgrade.
// The file is used unchanged except for three lines, each replaced exactly once so that the test notices when the
// file changes shape: the listen port (a free loopback port instead of 8080), the document root (a temporary
// directory instead of the image's /usr/share/nginx/html) and the upstream server (the fake Hasura on 127.0.0.1
// instead of the compose service name hasura, which resolves only on the compose network; nginx resolves upstream
// names once at start, so no resolver is involved). The surrounding nginx.conf is a minimal stand-in for the
// nginx-unprivileged image's (mime types, temp paths, include of the site).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type fakeHasura struct {
	mu      sync.Mutex
	headers []http.Header
}

func (f *fakeHasura) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if r.URL.Path != "/v1/graphql" {
		http.Error(w, "only /v1/graphql is proxied, got "+r.URL.Path, http.StatusTeapot)
		return
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: %s\r\n\r\n", r.Header.Get("Sec-WebSocket-Protocol"))
		rw.Flush()
		// Echo: stands in for the websocket frames of a subscription.
		_, _ = io.Copy(conn, rw)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"data":{"runs":[]}}`)
}

func (f *fakeHasura) last() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.headers) == 0 {
		return nil
	}
	return f.headers[len(f.headers)-1]
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// replaceOnce replaces old by new in s and fails unless old occurs exactly once.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("default.conf: %q occurs %d times, the test expects it once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nginxSite prepares a prefix directory with the site, a fake viewer and a fake Hasura; it returns the nginx
// binary, the prefix, the main config and the site's port.
func nginxSite(t *testing.T) (nginx, dir, conf string, port int, hasura *fakeHasura) {
	nginx = lookTool(t, "nginx", "apt-get install -y nginx")
	dir = t.TempDir()

	html := filepath.Join(dir, "html")
	writeFile(t, filepath.Join(html, "index.html"), `<!doctype html><title>benchpipe</title><div id="app"></div>`)
	writeFile(t, filepath.Join(html, "config.json"), `{"graphqlUrl": "/v1/graphql"}`)
	writeFile(t, filepath.Join(html, "assets", "index-abc123.js"), strings.Repeat("console.log('benchpipe viewer');\n", 200))

	hasura = &fakeHasura{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hasura}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	port = freeLoopbackPort(t)
	site := readFile(t, "deploy/nginx/default.conf")
	site = replaceOnce(t, site, "listen 8080;", fmt.Sprintf("listen 127.0.0.1:%d;", port))
	site = replaceOnce(t, site, "root /usr/share/nginx/html;", "root "+html+";")
	site = replaceOnce(t, site, "server hasura:8080;", "server "+l.Addr().String()+";")
	writeFile(t, filepath.Join(dir, "default.conf"), site)

	mime := "types { text/html html; application/javascript js; application/json json; }"
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody and could not read the 0700 test directory.
		user = "user root;"
	}
	conf = filepath.Join(dir, "nginx.conf")
	writeFile(t, conf, fmt.Sprintf(`%[2]s
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    %[3]s
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/default.conf;
}
`, dir, user, mime))
	return nginx, dir, conf, port, hasura
}

func TestNginxConfigTest(t *testing.T) {
	nginx, dir, conf, _, _ := nginxSite(t)
	out, err := exec.Command(nginx, "-t", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "[warn]") || strings.Contains(line, "[emerg]") {
			t.Errorf("nginx -t: %s", line)
		}
	}
}

func TestNginxServesViewerAndGraphQL(t *testing.T) {
	nginx, dir, conf, port, hasura := nginxSite(t)
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %v\n%s\n%s", err, stderr.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * time.Second}
	get := func(method, url string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+url, strings.NewReader(`{"query":"{ runs { run_id } }"}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// Every answer carries the security headers, including proxied ones and those of locations that set
		// their own caching (an add_header in a location would drop the server's).
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s %s: no %s header", method, url, h)
			}
		}
		return resp, string(b)
	}

	for _, route := range []string{"/", "/runs/0b7613c", "/compare?a=1"} {
		resp, body := get("GET", route, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `<div id="app">`) {
			t.Errorf("GET %s: %s, body %.60q; want the SPA's index.html", route, resp.Status, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q; index.html must not be cached", route, cc)
		}
	}
	resp, body := get("GET", "/config.json", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "graphqlUrl") || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /config.json: %s, Cache-Control %q, body %q; want it served uncached", resp.Status, resp.Header.Get("Cache-Control"), body)
	}
	resp, _ = get("GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Errorf("GET asset: Content-Encoding %q, Cache-Control %q; want gzip and a long max-age", resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
	}
	if resp, _ = get("GET", "/assets/missing.js", nil); resp.StatusCode != 404 {
		t.Errorf("GET missing asset: %s, want 404 (not index.html under a .js name)", resp.Status)
	}
	if resp, body = get("GET", "/healthz", nil); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: %s %q", resp.Status, body)
	}

	resp, body = get("POST", "/v1/graphql", map[string]string{"Content-Type": "application/json", "X-Hasura-Admin-Secret": "stolen", "X-Hasura-Role": "admin"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"runs"`) {
		t.Errorf("POST /v1/graphql: %s %q; want Hasura's answer", resp.Status, body)
	}
	if h := hasura.last(); h == nil || h.Get("X-Hasura-Admin-Secret") != "" || h.Get("X-Hasura-Role") != "" || h.Get("X-Forwarded-For") == "" {
		t.Errorf("headers at Hasura: %v; want no admin secret or role from the browser, and X-Forwarded-For", h)
	}
	// Nothing but /v1/graphql reaches Hasura: its metadata API and console stay private.
	for _, p := range []string{"/v1/metadata", "/v2/query", "/console"} {
		if resp, body = get("POST", p, nil); strings.Contains(body, "only /v1/graphql is proxied") {
			t.Errorf("POST %s reached Hasura (%s)", p, resp.Status)
		}
	}

	// A subscription: the upgrade must go through, and then bytes both ways.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /v1/graphql HTTP/1.1\r\nHost: viewer\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("websocket upgrade: %q, %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	fmt.Fprint(conn, "subscription frame\n")
	if echo, err := br.ReadString('\n'); err != nil || echo != "subscription frame\n" {
		t.Errorf("through the websocket tunnel: %q, %v", echo, err)
	}
}
