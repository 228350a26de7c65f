package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok"))
		case "/readyz":
			http.Error(w, "database not migrated", http.StatusServiceUnavailable)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		args     []string
		code     int
		stderrOK string
	}{
		{[]string{srv.URL + "/healthz"}, 0, ""},
		{[]string{srv.URL + "/readyz"}, 1, "database not migrated"},
		{[]string{srv.URL + "/missing"}, 1, "404"},
		{[]string{"-timeout", "100ms", srv.URL + "/slow"}, 1, "deadline"},
		{[]string{"http://127.0.0.1:1/"}, 1, "refused"},
		{nil, 2, "usage"},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.stderrOK) {
			t.Errorf("probe %v: exit %d, stderr %q; want exit %d, stderr containing %q", tc.args, code, stderr.String(), tc.code, tc.stderrOK)
		}
	}
}
