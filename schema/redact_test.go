package schema_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/schema"
)

// Every hostile form of issue 11 item 5 (passwords that net/url refuses: '#', '%', '/') and the other ways a
// password travels in a connection string. The old RedactURL returned the first three unchanged.
func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// URIs net/url refuses; libpq accepts them.
		{"postgresql://u:pa#ss@host/db", "postgresql://u@host/db"},
		{"postgresql://u:50%off@host/db", "postgresql://u@host/db"},
		{"postgresql://u:a/b@host/db", "postgresql://u@host/db"},
		{"postgres://u:p@ss@host:5432/db?sslmode=require", "postgres://u@host:5432/db?sslmode=require"},
		{"postgresql://u:pa?ss@host/db", "postgresql://u@host/db"},
		{"postgresql://u:pa ss@host/db", "postgresql://u@host/db"},
		{"postgresql://u:%2F%40x@h1:5432,h2:5433/db", "postgresql://u@h1:5432,h2:5433/db"},
		{"postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql/db", "postgresql://u@%2Fvar%2Frun%2Fpostgresql/db"},
		{"postgresql://u:pw@[::1]:5432/db", "postgresql://u@[::1]:5432/db"},
		// What net/url did handle keeps working.
		{"postgres://bench:hunter2@db:5432/bench?sslmode=require", "postgres://bench@db:5432/bench?sslmode=require"},
		{"postgres://db/bench?password=x&sslmode=disable", "postgres://db/bench?sslmode=disable"},
		{"postgres://db/bench?sslmode=disable&sslpassword=x", "postgres://db/bench?sslmode=disable"},
		{"postgres://db/bench?password=x", "postgres://db/bench"},
		{"postgres://db/bench?pass%77ord=x&a=b", "postgres://db/bench?a=b"},
		{"postgres://db/bench?%zz=x&a=b", "postgres://db/bench?a=b"}, // a key that does not decode may be one
		{"postgres://u@db/bench", "postgres://u@db/bench"},
		{"postgresql://", "postgresql://"},
		// MQTT and other URLs.
		{"tcp://user:pw@broker:1883", "tcp://user@broker:1883"},
		{"ssl://user:p#w/x@broker:8883", "ssl://user@broker:8883"},
		{"wss://u:p%zz@broker/mqtt", "wss://u@broker/mqtt"},
		{"https://u:tok@hasura/v1/graphql", "https://u@hasura/v1/graphql"},
		{"tcp://broker:1883", "tcp://broker:1883"},
		{"broker:1883", "broker:1883"},
		{"user:pw@broker:1883", "user@broker:1883"},
		{"bench", "bench"},
		{"", ""},
		// libpq key=value strings.
		{"host=db password=x", "host=db"},
		{"host=db password=s3cret dbname=bench", "host=db dbname=bench"},
		{`host=db password='s3 \'cret' user=x`, "host=db user=x"},
		{`host=db password='a\\' user=x`, "host=db user=x"},
		{"host=db sslpassword=s3cret", "host=db"},
		{"dbname=x PASSWORD = s3cret", "dbname=x"},
		{`password = 'with ''quotes' host=db`, schema.Mask}, // '' is not an escape: the value ends, "quotes'…" does not parse
		{"host=db password='unterminated dbname=x", "host=db " + schema.Mask},
		{"host=db dbname='my db'", "host=db dbname='my db'"},
	} {
		got := schema.RedactURL(c.in)
		if got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := schema.RedactURL(got); again != got {
			t.Errorf("RedactURL is not idempotent on %q: %q", got, again)
		}
	}
}

// Free text: a URI with its password, password=… fragments, and known secret values with no structure at all,
// such as libpq's echo of a badly percent-encoded password.
func TestRedactText(t *testing.T) {
	r := schema.NewRedactor("50%off", "pa#ss", "env-s3cret", "pw") // "pw" is too short to mask everywhere
	for _, c := range []struct{ in, want string }{
		{`pgbench: error: invalid percent-encoded token: "50%off"`, `pgbench: error: invalid percent-encoded token: "****"`},
		{`connection to "postgresql://u:pa#ss@host/db" failed`, `connection to "postgresql://u@host/db" failed`},
		{"could not connect to postgresql://u:other/x@host/db: refused", "could not connect to postgresql://u@host/db: refused"},
		{"dsn host=db password='a b\\' c' user=x", "dsn host=db password=**** user=x"},
		{"dsn host=db sslpassword=zz user=x", "dsn host=db sslpassword=**** user=x"},
		{"PGPASSWORD is env-s3cret here", "PGPASSWORD is **** here"},
		{"password authentication failed for user \"bench\"", "password authentication failed for user \"bench\""},
		{"pwd and pw stay", "pwd and pw stay"},
		{"tcp://broker:1883 and ssl://u:p@b:8883", "tcp://broker:1883 and ssl://u@b:8883"},
		{"no scheme ://x@y", "no scheme ://x@y"},
		// A secret inside a longer word is not the secret; one delimited is.
		{"env-s3cretive env-s3cret. xenv-s3cret", "env-s3cretive ****. xenv-s3cret"},
	} {
		if got := r.Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A password that is also a common word keeps URLs readable and valid.
	common := schema.NewRedactor("postgres")
	if got := common.URL("postgresql://postgres@127.0.0.1:5432/postgres"); got != "postgresql://****@127.0.0.1:5432/****" {
		t.Errorf("URL with the password postgres: %q", got)
	}
	if got := common.Text(`database "postgres" on postgresql://db`); got != `database "****" on postgresql://db` {
		t.Errorf("Text with the password postgres: %q", got)
	}
	var nilRedactor *schema.Redactor
	if got := nilRedactor.Text("postgresql://u:x@h/d env-s3cret"); got != "postgresql://u@h/d env-s3cret" {
		t.Errorf("nil Redactor: %q", got)
	}
}

// ConnSecrets finds the password of a connection argument in every form a tool may echo it in.
func TestConnSecrets(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"postgresql://u:50%off@host/db", []string{"50%off", "50%25off"}},
		{"postgresql://u:pa%23ss@host/db", []string{"pa%23ss", "pa#ss", "pa%2523ss"}},
		// libpq reads "u:ab" as host and port and "cd@host/db" as the database: every piece is a secret.
		{"postgresql://u:ab/cde@host/db", []string{"ab/cde", "ab%2Fcde", "cde"}},
		{"postgresql://u:p1@p2@host/db", []string{"p1", "p1@p2", "p1%40p2"}},
		{"--dbname=postgres://db/x?password=qq%20q", []string{"qq%20q", "qq q", "qq%2520q"}},
		{`host=db password='s3 \'cret' user=x`, []string{"s3 'cret", "s3%20%27cret", "s3+%27cret"}},
		{"--dbname=host=db sslpassword=abc", []string{"abc"}},
		{"host=db password='unterminated", []string{"unterminated"}},
		{"-c", nil},
		{"bench", nil},
	} {
		got := schema.ConnSecrets(c.in)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ConnSecrets(%q) = %q, want %q", c.in, got, want)
		}
	}
}

// The environment's secrets, including every password of a libpq service file.
func TestEnvSecrets(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "pg_service.conf")
	if err := os.WriteFile(svc, []byte("[bench]\nhost=db\npassword=svc-pass-1\n[other]\n password = svc-pass-2 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PGPASSWORD": "pg-pw", "MQTT_PASSWORD": "mqtt-pw", "PGSERVICEFILE": svc,
		"DATABASE_URL": "postgres://u:db-pw@h/d", "PGDATABASE": "host=x password=pgdb-pw"}
	got := schema.EnvSecrets(func(k string) string { return env[k] })
	slices.Sort(got)
	want := []string{"db-pw", "mqtt-pw", "pg-pw", "pgdb-pw", "svc-pass-1", "svc-pass-2"}
	if !slices.Equal(got, want) {
		t.Errorf("EnvSecrets = %q, want %q", got, want)
	}
}

// Records: every free-text field is cleaned, by a Redactor and by Encode/Decode themselves.
func TestRedactRecord(t *testing.T) {
	r := validRecords()["started"]
	r.Started.Name = "run with pw-known-1"
	r.Started.Tags = map[string]string{"dsn": "postgresql://u:x#y@h/d"}
	r.Started.Parameters = json.RawMessage(`{"args":["-c","4","postgresql://u:50%off@h/d","dbname=d password='q r'"],"n":1.50}`)
	red := schema.NewRedactor("pw-known-1", "50%off")
	got := red.Record(r)
	if got.Started.Name != "run with ****" || got.Started.Tags["dsn"] != "postgresql://u@h/d" ||
		string(got.Started.Parameters) != `{"args":["-c","4","postgresql://u@h/d","dbname=d password=****"],"n":1.50}` {
		t.Errorf("Record: name %q tags %v parameters %s", got.Started.Name, got.Started.Tags, got.Started.Parameters)
	}
	if r.Started.Name != "run with pw-known-1" {
		t.Error("Record modified its argument")
	}

	// Encode cleans what structure reveals; Decode does too, for producers that do not use Encode.
	b, err := schema.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"x#y", "50%off", "q r"} {
		if bytes.Contains(b, []byte(leak)) {
			t.Errorf("Encode left %q in %s", leak, b)
		}
	}
	f := validRecords()["finished"]
	f.Finished.Error = `pgbench: error: connection to "postgresql://u:a/b@h:1/d" failed; host=h password=zz`
	raw, err := json.Marshal(f) // bypasses Encode, as a non-Go producer would
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := `pgbench: error: connection to "postgresql://u@h:1/d" failed; host=h password=****`; dec.Finished.Error != want {
		t.Errorf("Decode: error %q, want %q", dec.Finished.Error, want)
	}
}

// A target URL that holds a password in any form — also one net/url cannot parse — is refused.
func TestTargetURLWithHostilePasswordRefused(t *testing.T) {
	for _, u := range []string{"postgresql://u:pa#ss@host/db", "postgresql://u:50%off@host/db", "postgresql://u:a/b@host/db",
		"host=db password=x", "tcp://u:p@b:1883"} {
		r := validRecords()["started"]
		r.Started.Target.URL = u
		if _, err := schema.Encode(r); err == nil || !strings.Contains(err.Error(), "target.url") {
			t.Errorf("Encode with target.url %q: err = %v, want a refusal naming target.url", u, err)
		}
	}
}

func TestRedactorWriter(t *testing.T) {
	var b bytes.Buffer
	w := schema.NewRedactor("hunter22").Writer(&b)
	n, err := w.Write([]byte("pass hunter22 and postgres://u:x@h/d\n"))
	if err != nil || n != 37 || b.String() != "pass **** and postgres://u@h/d\n" {
		t.Errorf("Write = %d, %v; wrote %q", n, err, b.String())
	}
}

// FuzzRedactURL: the redactor never panics, is idempotent, and a password placed in a URI's user information
// never survives, whatever bytes it holds.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"pa#ss", "50%off", "a/b", "p@ss", "x?y=z", "", "a b", "%", "/@/", "'\\"} {
		f.Add("postgresql", "u", s, "host:5432/db?sslmode=require")
	}
	f.Add("tcp", "user", "pw", "broker:1883")
	f.Fuzz(func(t *testing.T, scheme, user, password, rest string) {
		_ = schema.RedactURL(rest)
		_ = schema.RedactText(rest)
		if schema.RedactURL(schema.RedactURL(rest)) != schema.RedactURL(rest) {
			t.Fatalf("RedactURL not idempotent on %q", rest)
		}
		if scheme == "" || !isScheme(scheme) || strings.ContainsAny(user, ":@") || len(password) < 3 ||
			strings.ContainsAny(rest, "@") || strings.ContainsAny(password, " \t\n\r\f\v") {
			return
		}
		u := scheme + "://" + user + ":" + password + "@" + rest
		// Exactly the URI without the password: user@ followed by the rest as it is redacted without user info.
		want := scheme + "://" + user + "@" + strings.TrimPrefix(schema.RedactURL(scheme+"://"+rest), scheme+"://")
		if got := schema.RedactURL(u); got != want {
			t.Fatalf("RedactURL(%q) = %q, want %q", u, got, want)
		}
		// In free text a URI ends at the first blank; there, the URI is redacted as on its own.
		if !strings.ContainsAny(user+rest, " \t\n\r\f\v") {
			if got, want := schema.RedactText("error: "+u+" failed"), schema.RedactText("error: "+want+" failed"); got != want {
				t.Fatalf("RedactText(%q) = %q, want %q", u, got, want)
			}
		}
		if strings.Contains(password, "*") {
			return // the mask's own characters would match
		}
		red := schema.NewRedactor(schema.ConnSecrets(u)...)
		if got := red.Text("libpq said \"" + password + "\" and " + url.PathEscape(password)); strings.Contains(got, password) {
			t.Fatalf("Redactor with ConnSecrets(%q) kept the password: %q", u, got)
		}
	})
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
