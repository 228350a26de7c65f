package pgbench

import (
	"reflect"
	"strings"
	"testing"
)

func TestResolveConn(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name string
		args string
		env  func(string) string
		want connSettings
	}{
		{name: "flags and positional", args: "-h db -p 6432 -U bench benchdb", env: env(),
			want: connSettings{"host": "db", "port": "6432", "user": "bench", "dbname": "benchdb"}},
		{name: "PGDATABASE", args: "-h db", env: env("PGDATABASE", "fromenv", "PGUSER", "u"),
			want: connSettings{"host": "db", "dbname": "fromenv"}},
		{name: "PGUSER names the database", args: "", env: env("PGUSER", "u"), want: connSettings{"dbname": "u"}},
		{name: "URI overrides flags", args: "-h ignored -p 1 postgresql://bench:pw@db1:5433/bench?sslmode=require&application_name=x", env: env(),
			want: connSettings{"host": "db1", "port": "5433", "user": "bench", "password": "pw", "dbname": "bench", "sslmode": "require", "application_name": "x"}},
		{name: "URI with a socket directory and host list", args: "postgres://%2Fvar%2Frun%2Fpostgresql/db", env: env(),
			want: connSettings{"host": "/var/run/postgresql", "dbname": "db"}},
		{name: "URI with several hosts", args: "postgresql://a:1,b:2/db", env: env(),
			want: connSettings{"host": "a,b", "port": "1,2", "dbname": "db"}},
		{name: "key=value connection string", args: "-U x", env: env("PGDATABASE", `host=db dbname='my db' password='p\'w'`),
			want: connSettings{"user": "x", "host": "db", "dbname": "my db", "password": "p'w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveConn(readBenchArgs(strings.Fields(tt.args), 15), tt.env)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestConnTarget(t *testing.T) {
	s := connSettings{"host": "db.lab", "port": "6432", "user": "bench", "password": "s3cret", "dbname": "bench"}
	tg := s.target()
	if tg.Host != "db.lab" || tg.Port != 6432 || tg.Database != "bench" || tg.URL != "postgresql://db.lab:6432/bench" {
		t.Errorf("target %+v", tg)
	}
	if strings.Contains(tg.URL, "s3cret") || strings.Contains(tg.URL, "bench@") {
		t.Errorf("credentials in %q", tg.URL)
	}
	// A password with quotes survives the round trip to pgx's parser.
	if got := (connSettings{"password": `a'b\c`, "dbname": "d"}).String(); got != `dbname='d' password='a\'b\\c'` {
		t.Errorf("String() = %s", got)
	}
	if tg := (connSettings{"dbname": "d", "port": "5433"}).target(); tg.Host == "" || tg.Port != 5433 {
		t.Errorf("default host not resolved: %+v", tg)
	}
}
