package hasurastub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vektah/gqlparser/v2/ast"
)

// Path is where the stub serves GraphQL, as Hasura does.
const Path = "/v1/graphql"

// Server is a running stand-in for Hasura. It implements http.Handler too, for tests that mount it elsewhere.
type Server struct {
	// URL is the GraphQL endpoint, http://127.0.0.1:PORT/v1/graphql.
	URL string

	md     *Metadata
	role   string
	pool   *pgxpool.Pool
	tables map[string]*tableInfo // by GraphQL name
	funcs  map[string]*funcInfo  // by GraphQL name
	srv    *httptest.Server

	authHook     string                 // GET webhook that decides each request's role; "" = the fixed role
	env          map[string]string      // overrides of the environment for action templates
	actions      map[string]*actionInfo // by name, resolved
	inconsistent []string               // metadata objects left out of the schema
	client       *http.Client           // calls the auth webhook and the action handlers

	ctx         context.Context // ends with Close, and with it every websocket
	cancel      context.CancelFunc
	wsWG        sync.WaitGroup
	refetch     time.Duration
	keepAlive   time.Duration
	initTimeout time.Duration

	mu        sync.Mutex
	requests  []Request
	closeOnce sync.Once
}

// Request is one GraphQL request the stub received.
type Request struct {
	Query         string
	Variables     json.RawMessage
	OperationName string
	Header        http.Header
	Websocket     bool   // a subscribe message on the websocket rather than an HTTP POST
	Role          string // the role it ran as ("" when the auth webhook refused it)
}

// Option configures a Server.
type Option func(*Server)

// WithRole sets the role the stub answers as when it has no auth webhook (WithAuthHook). Default "anonymous",
// Hasura's HASURA_GRAPHQL_UNAUTHORIZED_ROLE; every request gets this role.
func WithRole(role string) Option { return func(s *Server) { s.role = role } }

// WithAuthHook makes the stub authenticate every request with the webhook at url, as Hasura does with
// HASURA_GRAPHQL_AUTH_HOOK in GET mode (HASURA_GRAPHQL_AUTH_HOOK_MODE=GET, the default): the request's role and
// session variables are the webhook's answer (see doc.go). Default: no webhook, the fixed role of WithRole.
func WithAuthHook(url string) Option { return func(s *Server) { s.authHook = url } }

// WithEnv sets environment variables for the actions' handler templates ({{NAME}}) and value_from_env headers,
// over the process environment, as Hasura reads them from its own environment. Default: the process environment.
func WithEnv(env map[string]string) Option { return func(s *Server) { s.env = env } }

func (s *Server) lookupEnv(key string) (string, bool) {
	if v, ok := s.env[key]; ok {
		return v, true
	}
	return os.LookupEnv(key)
}

// WithKeepAlive sets how often the websocket sends graphql-ws keep-alive pings. Default 5 s, Hasura's
// HASURA_GRAPHQL_WEBSOCKET_KEEPALIVE default.
func WithKeepAlive(d time.Duration) Option { return func(s *Server) { s.keepAlive = d } }

// WithRefetchInterval sets how often subscriptions are re-run. Default 1 s, Hasura's default for live queries and
// streams; tests may shorten it.
func WithRefetchInterval(d time.Duration) Option { return func(s *Server) { s.refetch = d } }

// New starts a stub serving md from the database at databaseURL, which must already hold every tracked table
// (migrate it first). Metadata that does not match the database (a missing table or column) fails the test, as
// Hasura reports it inconsistent. The server is closed when the test ends.
func New(tb testing.TB, databaseURL string, md *Metadata, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(context.Background(), databaseURL, md, opts...)
	if err != nil {
		tb.Fatalf("hasurastub: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start is New for callers without a testing.TB; Close it when done.
func Start(ctx context.Context, databaseURL string, md *Metadata, opts ...Option) (*Server, error) {
	s, err := Open(ctx, databaseURL, md, opts...)
	if err != nil {
		return nil, err
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL + Path
	return s, nil
}

// Open connects to the database and checks the metadata against it, without listening: serve the Server (an
// http.Handler) yourself, on Path, and Close it when done. The demo serves it this way beside the viewer.
func Open(ctx context.Context, databaseURL string, md *Metadata, opts ...Option) (*Server, error) {
	s := &Server{md: md, role: "anonymous", refetch: time.Second, keepAlive: 5 * time.Second, initTimeout: 3 * time.Second}
	for _, o := range opts {
		o(s)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	// Hasura's timestamptz values come back in UTC (+00:00).
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.MaxConns = 4
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if s.tables, err = introspect(ctx, s.pool, md); err != nil {
		s.pool.Close()
		return nil, err
	}
	if s.funcs, err = introspectFunctions(ctx, s.pool, md, s.tables); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.resolveActions()
	s.client = &http.Client{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close stops the HTTP server and closes the database pool. Requests after Close fail to connect, which is how
// tests make the endpoint unreachable.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.srv != nil {
			s.srv.CloseClientConnections()
			s.srv.Close()
		}
		s.wsWG.Wait()
		s.pool.Close()
	})
}

// Requests returns every GraphQL request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Documents returns the query documents of every request received so far, in order.
func (s *Server) Documents() []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Query)
	}
	return out
}

// ServeHTTP answers GraphQL requests on Path and GET /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		_, _ = io.WriteString(w, "OK")
		return
	case r.URL.Path != Path:
		http.NotFound(w, r)
		return
	case r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		s.serveWebsocket(w, r)
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Query         string          `json:"query"`
		Variables     json.RawMessage `json:"variables"`
		OperationName string          `json:"operationName"`
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		// Hasura answers a body it cannot decode with 400 and its non-GraphQL error shape.
		writeJSON(w, http.StatusBadRequest, map[string]string{"path": "$", "error": err.Error(), "code": "parse-failed"})
		return
	}
	sess, gerr := s.authenticate(r.Context(), r.Header)
	role := ""
	if sess != nil {
		role = sess.role
	}
	s.record(Request{Query: req.Query, Variables: req.Variables, OperationName: req.OperationName, Header: r.Header.Clone(), Role: role})
	var data string
	if gerr == nil {
		data, gerr = s.execute(r.Context(), req.Query, req.Variables, req.OperationName, sess)
	}
	if gerr != nil {
		// Hasura answers every error on /v1/graphql with HTTP 200 (Hasura.Server.App: allMod200), auth errors included.
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{gerr.response()}})
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"data":`)
	buf.WriteString(data)
	buf.WriteString("}")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// gqlError is one error in Hasura's shape: message, extensions.code, extensions.path; or, for an action handler's
// error that gave its own extensions, those extensions instead.
type gqlError struct {
	Message    string
	Code       string
	Path       string
	Extensions json.RawMessage
}

func (e *gqlError) Error() string { return fmt.Sprintf("%s (%s at %s)", e.Message, e.Code, e.Path) }

func (e *gqlError) response() map[string]any {
	if e.Extensions != nil {
		return map[string]any{"message": e.Message, "extensions": e.Extensions}
	}
	return map[string]any{"message": e.Message, "extensions": map[string]any{"code": e.Code, "path": e.Path}}
}

// Error codes Hasura uses, plus the stub's own for what it does not implement.
const (
	codeValidation  = "validation-failed"
	codeDataExc     = "data-exception"
	codeUnexpected  = "unexpected"
	codeUnsupported = "hasurastub-unsupported"
)

func validationError(path, format string, args ...any) *gqlError {
	return &gqlError{Message: fmt.Sprintf(format, args...), Code: codeValidation, Path: path}
}

func unsupported(path, format string, args ...any) *gqlError {
	return &gqlError{Message: "hasurastub does not implement " + fmt.Sprintf(format, args...), Code: codeUnsupported, Path: path}
}

// execute answers one request: it returns the JSON of "data" or one error.
func (s *Server) execute(ctx context.Context, query string, variables json.RawMessage, opName string, sess *session) (string, *gqlError) {
	pl, gerr := s.compile(query, variables, opName, sess.role)
	if gerr != nil {
		return "", gerr
	}
	if pl.op == ast.Mutation {
		return s.runMutation(ctx, pl, sess, query)
	}
	if pl.op == ast.Subscription {
		// Hasura.GraphQL.Transport.HTTP: throw400 UnexpectedPayload.
		return "", &gqlError{Message: "subscriptions are not supported over HTTP, use websockets instead", Code: "unexpected-payload", Path: "$"}
	}
	return s.runQuery(ctx, pl, sess, query)
}

// run executes a plan in a read-only transaction and returns the data JSON and, for a stream, the new cursor.
func (s *Server) run(ctx context.Context, pl *plan) (string, *string, *gqlError) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", nil, &gqlError{Message: "database query error: " + err.Error(), Code: codeUnexpected, Path: "$"}
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var data string
	var cursor *string
	dest := []any{&data}
	if pl.stream != nil {
		dest = append(dest, &cursor)
	}
	if err := tx.QueryRow(ctx, pl.sql, pl.args...).Scan(dest...); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
			return "", nil, &gqlError{Message: pgErr.Message, Code: codeDataExc, Path: "$"}
		}
		return "", nil, &gqlError{Message: "database query error: " + err.Error(), Code: codeUnexpected, Path: "$"}
	}
	return data, cursor, nil
}

// column is a column of a tracked table, with the GraphQL scalar Hasura gives its type.
type column struct {
	name   string
	pgType string // format_type, for casts
	scalar string // Hasura's GraphQL scalar: uuid, String, Int, bigint, float8, timestamptz, jsonb, …
}

// tableInfo joins a tracked table's metadata to its columns in the database.
type tableInfo struct {
	meta    *Table
	sqlName string // "schema"."name"
	columns map[string]*column
	pk      []string
}

// introspect reads every tracked table's columns and primary key, and checks the metadata against them.
func introspect(ctx context.Context, pool *pgxpool.Pool, md *Metadata) (map[string]*tableInfo, error) {
	out := map[string]*tableInfo{}
	var problems []string
	for _, name := range md.TableNames() {
		t := md.Tables[name]
		ti := &tableInfo{meta: t, sqlName: pgx.Identifier{t.Schema, t.Name}.Sanitize(), columns: map[string]*column{}}
		rows, err := pool.Query(ctx, `
			SELECT a.attname, format_type(a.atttypid, NULL), ty.typname
			FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_type ty ON ty.oid = a.atttypid
			WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attnum`, t.Schema, t.Name)
		if err != nil {
			return nil, fmt.Errorf("introspect %s: %w", ti.sqlName, err)
		}
		for rows.Next() {
			var c column
			var typname string
			if err := rows.Scan(&c.name, &c.pgType, &typname); err != nil {
				rows.Close()
				return nil, fmt.Errorf("introspect %s: %w", ti.sqlName, err)
			}
			c.scalar = scalarOf(typname)
			ti.columns[c.name] = &c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("introspect %s: %w", ti.sqlName, err)
		}
		if len(ti.columns) == 0 {
			problems = append(problems, fmt.Sprintf("table %s is tracked but does not exist", ti.sqlName))
			continue
		}
		pkRows, err := pool.Query(ctx, `
			SELECT a.attname FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
			WHERE i.indrelid = $1::regclass AND i.indisprimary`, ti.sqlName)
		if err != nil {
			return nil, fmt.Errorf("introspect primary key of %s: %w", ti.sqlName, err)
		}
		ti.pk, err = pgx.CollectRows(pkRows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("introspect primary key of %s: %w", ti.sqlName, err)
		}
		for role, p := range t.Select {
			for _, c := range p.Columns {
				if ti.columns[c] == nil {
					problems = append(problems, fmt.Sprintf("table %s, select permission for %s: no column %q", name, role, c))
				}
			}
		}
		out[name] = ti
	}
	for name, ti := range out {
		for _, r := range ti.meta.Relationships {
			remote := md.tableAt(r.RemoteSchema, r.RemoteName)
			if remote == nil || out[remote.GraphQLName] == nil {
				problems = append(problems, fmt.Sprintf("table %s, relationship %s: remote table %s.%s is not tracked", name, r.Name, r.RemoteSchema, r.RemoteName))
				continue
			}
			for local, rc := range r.ColumnMapping {
				if ti.columns[local] == nil || out[remote.GraphQLName].columns[rc] == nil {
					problems = append(problems, fmt.Sprintf("table %s, relationship %s: column mapping %s → %s names a missing column", name, r.Name, local, rc))
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("inconsistent metadata:\n  %s", strings.Join(problems, "\n  "))
	}
	return out, nil
}

// scalarOf maps a PostgreSQL type name to the GraphQL scalar Hasura generates for it.
func scalarOf(typname string) string {
	switch typname {
	case "text", "varchar", "bpchar", "name", "citext":
		return "String"
	case "int4":
		return "Int"
	case "int2":
		return "smallint"
	case "int8":
		return "bigint"
	case "float4":
		return "Float"
	case "bool":
		return "Boolean"
	default: // uuid, float8, numeric, timestamptz, timestamp, date, jsonb, json, interval, …
		return typname
	}
}
