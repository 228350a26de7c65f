package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
)

// get calls /auth as Hasura's GET-mode webhook does: a GET carrying the client's headers.
func (f *fixture) auth(authorization ...string) (int, map[string]string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url+"/auth", nil)
	req.Header.Set("Content-Type", "application/json") // the client's, forwarded
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("/auth answer is not a JSON object of strings: %v", err)
	}
	return resp.StatusCode, out
}

// TestAuthWebhook: the operator token makes the role operator, no Authorization header anonymous, and every other
// Authorization header is refused with 401 (Hasura then refuses the GraphQL request).
func TestAuthWebhook(t *testing.T) {
	_, brokers := testenv.Kafka(t)
	f := newFixture(t, brokers, "benchpipe.jobs")
	for _, tc := range []struct {
		name   string
		header []string
		status int
		role   string
	}{
		{"no header", nil, 200, RoleAnonymous},
		{"right token", []string{"Bearer " + testToken}, 200, RoleOperator},
		{"scheme in lower case", []string{"bearer " + testToken}, 200, RoleOperator},
		{"wrong token", []string{"Bearer op-token-9f3c1e5a7c"}, 401, ""},
		{"token prefix", []string{"Bearer " + testToken[:len(testToken)-1]}, 401, ""},
		{"token with a byte more", []string{"Bearer " + testToken + "x"}, 401, ""},
		// (A trailing space cannot be tested: it is not part of a header's value, and Go's server trims it as
		// HTTP says, like every proxy on the way.)
		{"token with a byte before", []string{"Bearer x" + testToken}, 401, ""},
		{"token and more words", []string{"Bearer " + testToken + " x"}, 401, ""},
		{"two spaces", []string{"Bearer  " + testToken}, 401, ""},
		{"wrong scheme", []string{"Basic " + testToken}, 401, ""},
		{"token without scheme", []string{testToken}, 401, ""},
		{"scheme without token", []string{"Bearer"}, 401, ""},
		{"empty header", []string{""}, 401, ""},
		{"two headers", []string{"Bearer " + testToken, "Bearer " + testToken}, 401, ""},
	} {
		status, body := f.auth(tc.header...)
		if status != tc.status || body["X-Hasura-Role"] != tc.role || len(body) != 1 {
			t.Errorf("%s: %d %v, want %d with role %q", tc.name, status, body, tc.status, tc.role)
		}
		if status == 401 && !strings.Contains(body["message"], "invalid operator credential") {
			t.Errorf("%s: 401 without the reason: %v", tc.name, body)
		}
	}
	if n := strings.Count(f.log.String(), "wrong operator credential"); n != 11 {
		t.Errorf("%d refusals logged, want 11:\n%s", n, f.log.String())
	}
}

// TestAuthWithoutToken: with no operator token configured nobody is operator: every request is anonymous, also
// one that sends a token, and the start says so.
func TestAuthWithoutToken(t *testing.T) {
	_, brokers := testenv.Kafka(t)
	f := newFixture(t, brokers, "benchpipe.jobs", WithOperatorToken(""))
	for _, h := range [][]string{nil, {"Bearer " + testToken}, {"Bearer "}, {"Basic x"}} {
		if status, body := f.auth(h...); status != 200 || body["X-Hasura-Role"] != RoleAnonymous {
			t.Errorf("Authorization %q: %d %v, want 200 anonymous", h, status, body)
		}
	}
	if !strings.Contains(f.log.String(), EnvOperatorToken+" is not set") {
		t.Errorf("no warning at start:\n%s", f.log.String())
	}
}

// TestWritingRoleIsReported: sink api only reads agents and jobs. Connected as the read-only role (the fixture's,
// as deployed) it says nothing; connected as the sink's owner (a superuser in the compose stack) it warns that the
// role can write, naming the read-only role to use, without the password.
func TestWritingRoleIsReported(t *testing.T) {
	_, brokers := testenv.Kafka(t)
	f := newFixture(t, brokers, "benchpipe.jobs")
	if strings.Contains(f.log.String(), "a role that can write") {
		t.Errorf("warned connected as the read-only role:\n%s", f.log.String())
	}

	cfg := *f.cfg // the owner's URL, as the sink's
	var log testenv.Buffer
	s, err := New(context.Background(), &cfg, WithLogger(slog.New(slog.NewTextHandler(&log, nil))), WithActionSecret(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := "sink api connects to the database as a role that can write (" + testenv.OwnerRole + " is a superuser)"
	if out := log.String(); !strings.Contains(out, want) || !strings.Contains(out, "GRAFANA_DB_USER") {
		t.Errorf("no warning that the owner can write, want %q:\n%s", want, out)
	}
	if strings.Contains(log.String(), testenv.OwnerPassword) {
		t.Errorf("the warning holds the password:\n%s", log.String())
	}
}

// TestShortSecretsRefused: a token or secret shorter than MinSecretLen stops sink api at start, naming the variable
// and the length, never the value.
func TestShortSecretsRefused(t *testing.T) {
	cfg := config.Default()
	_, err := New(context.Background(), &cfg, WithActionSecret("short-secret"), WithOperatorToken("tiny-token"))
	for _, want := range []string{EnvActionSecret + " is 12 characters: use at least 16", EnvOperatorToken + " is 10 characters: use at least 16"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with short secrets: err %v, want it to say %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "short-secret") || strings.Contains(err.Error(), "tiny-token")) {
		t.Errorf("the error holds a secret: %v", err)
	}
}
