package pgbench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/schema"
)

// connSettings are libpq connection keywords (host, port, user, dbname, sslmode, …) as pgbench would pass them
// to libpq. They may hold a password taken from a connection string: use them to connect, never record them.
type connSettings map[string]string

// resolveConn works out what pgbench connects to, the way pgbench and libpq do: the database name is -d/--dbname
// or the positional argument, else $PGDATABASE, else $PGUSER, else the login name; when that name is a
// connection string or URI, its keywords override -h, -p and -U; keywords nobody set are left to libpq (and
// pgx), which take them from the environment (PGHOST, PGPORT, PGPASSWORD, …) or their defaults.
func resolveConn(b benchArgs, getenv func(string) string) (connSettings, error) {
	s := connSettings{}
	if b.host != "" {
		s["host"] = b.host
	}
	if b.port != "" {
		s["port"] = b.port
	}
	if b.user != "" {
		s["user"] = b.user
	}
	db := b.dbname
	if db == "" {
		db = getenv("PGDATABASE")
	}
	if db == "" {
		db = getenv("PGUSER")
	}
	if db == "" {
		if u, err := user.Current(); err == nil {
			db = u.Username
		}
	}
	switch {
	case strings.HasPrefix(db, "postgresql://"), strings.HasPrefix(db, "postgres://"):
		kv, err := parseConnURI(db)
		if err != nil {
			return s, fmt.Errorf("read the connection URI %s: %w", schema.RedactURL(db), err)
		}
		for k, v := range kv {
			s[k] = v
		}
	case strings.Contains(db, "="):
		kv, err := parseConnString(db)
		if err != nil {
			return s, fmt.Errorf("read the connection string: %w", err)
		}
		for k, v := range kv {
			s[k] = v
		}
	default:
		s["dbname"] = db
	}
	return s, nil
}

// parseConnString parses a libpq key=value connection string: values may be single-quoted, with \' and \\
// escapes inside.
func parseConnString(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("missing \"=\" after %q", key)
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '\'' {
					i++
					closed = true
					break
				}
				val.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value for %q", key)
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		out[key] = val.String()
	}
}

// parseConnURI parses a postgresql:// URI into libpq keywords. It is parsed by hand rather than with net/url,
// which refuses what libpq accepts: percent-encoded socket directories as host (%2Fvar%2Frun%2Fpostgresql) and
// lists of hosts (h1:5432,h2:5433).
func parseConnURI(s string) (map[string]string, error) {
	_, rest, _ := strings.Cut(s, "://")
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	out := map[string]string{}
	unescape := func(v string) (string, error) {
		u, err := url.PathUnescape(v)
		if err != nil {
			return "", errors.New("bad percent-encoding") // url's error would quote the value: a password
		}
		return u, nil
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		name, pw, hasPW := strings.Cut(userinfo, ":")
		var err error
		if name, err = unescape(name); err != nil {
			return nil, err
		}
		if name != "" {
			out["user"] = name
		}
		if hasPW {
			if out["password"], err = unescape(pw); err != nil {
				return nil, err
			}
		}
	}
	if authority != "" {
		var hosts, ports []string
		for _, hp := range strings.Split(authority, ",") {
			h, p := hp, ""
			if strings.HasPrefix(hp, "[") { // [IPv6]:port
				if end := strings.Index(hp, "]"); end > 0 {
					h, p = hp[1:end], strings.TrimPrefix(hp[end+1:], ":")
				}
			} else if i := strings.LastIndex(hp, ":"); i >= 0 {
				h, p = hp[:i], hp[i+1:]
			}
			h, err := unescape(h)
			if err != nil {
				return nil, err
			}
			hosts = append(hosts, h)
			ports = append(ports, p)
		}
		if strings.Join(hosts, "") != "" {
			out["host"] = strings.Join(hosts, ",")
		}
		if strings.Join(ports, "") != "" {
			out["port"] = strings.Join(ports, ",")
		}
	}
	if path != "" {
		db, err := unescape(path)
		if err != nil {
			return nil, err
		}
		out["dbname"] = db
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, errors.New("bad query parameters")
		}
		for k, vs := range q {
			if len(vs) > 0 {
				out[k] = vs[len(vs)-1]
			}
		}
	}
	return out, nil
}

// String renders the settings as a key=value connection string for pgx, password included.
func (s connSettings) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strings.ReplaceAll(strings.ReplaceAll(s[k], `\`, `\\`), `'`, `\'`)
		fmt.Fprintf(&b, "%s='%s' ", k, v)
	}
	return strings.TrimSpace(b.String())
}

// target describes the server for the run record, without credentials. Host, port and database are those
// pgx resolves from the settings and the environment, which follow libpq's rules (a host left open is the local
// socket directory).
func (s connSettings) target() schema.Target {
	t := schema.Target{Host: s["host"], Database: s["dbname"]}
	t.Port, _ = strconv.Atoi(s["port"])
	if cfg, err := pgx.ParseConfig(s.String()); err == nil {
		if t.Host == "" {
			t.Host = cfg.Host
		}
		if t.Port == 0 {
			t.Port = int(cfg.Port)
		}
		if t.Database == "" {
			t.Database = cfg.Database
		}
	}
	if strings.Contains(t.Host, ",") {
		t.Port = 0 // one port per host: the URL carries them
	}
	if t.Port == 0 && !strings.Contains(t.Host, ",") {
		t.Port = 5432
	}
	hostport := url.PathEscape(t.Host)
	if t.Port != 0 {
		hostport += ":" + strconv.Itoa(t.Port)
	}
	t.URL = "postgresql://" + hostport + "/" + url.PathEscape(t.Database)
	return t
}

// serverVersion asks the server for its version (SHOW server_version). It is best effort: the run does not need
// it, so it gives up after timeout and returns the error for a warning.
func (s connSettings) serverVersion(ctx context.Context, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(s.String())
	if err != nil {
		return "", fmt.Errorf("server version: read connection settings: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > timeout {
		cfg.ConnectTimeout = timeout
	}
	cfg.RuntimeParams["application_name"] = "benchpipe producer pgbench"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("server version: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}
