package compare

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// An endpoint URL with credentials never shows them in what compare prints.
func TestRunHidesEndpointPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("BENCHPIPE_CONFIG", "")
	for _, tc := range []struct {
		url  string
		code int
	}{
		{"http://viewer:Hx7pw#x@" + addr + "/v1/graphql", ExitUsage}, // net/url refuses it
		{"http://viewer:Hx7pw@" + addr + "/v1/graphql", ExitUnreachable},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"--url", tc.url, uuid.NewString(), uuid.NewString()}, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != tc.code || strings.Contains(out, "Hx7pw") || !strings.Contains(out, "http://viewer@"+addr) {
			t.Errorf("--url %s: exit %d (want %d), output:\n%s", tc.url, code, tc.code, out)
		}
	}
}
