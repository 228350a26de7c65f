package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/schema"
)

// The environment variables `sink api` reads its secrets from. They are never in the YAML: the configuration file
// is readable by more people than the operators.
const (
	// EnvOperatorToken is the operator credential: a GraphQL request with "Authorization: Bearer <token>" may
	// launch and stop jobs. Unset, every request is anonymous (read-only).
	EnvOperatorToken = "BENCHPIPE_OPERATOR_TOKEN"
	// EnvActionSecret is shared by Hasura (the action's X-Benchpipe-Action-Secret header, value_from_env) and
	// `sink api`; it is required, because without it anyone who can reach /actions could launch jobs.
	EnvActionSecret = "BENCHPIPE_ACTION_SECRET"
)

// MinSecretLen is the shortest operator token and action secret New accepts.
const MinSecretLen = 16

// ActionSecretHeader carries EnvActionSecret from Hasura to /actions.
const ActionSecretHeader = "X-Benchpipe-Action-Secret"

// The session roles.
const (
	RoleOperator  = "operator"
	RoleAnonymous = "anonymous"
)

// ErrNoActionSecret is New's error when WithActionSecret was not given a secret.
var ErrNoActionSecret = errors.New(EnvActionSecret + " is not set: without it anyone who can reach /actions could launch jobs; set it to the same random value in Hasura's and sink api's environment")

// DefaultProduceTimeout bounds how long an action waits for Kafka to acknowledge its messages.
const DefaultProduceTimeout = 10 * time.Second

// Option configures a Server.
type Option func(*options)

type options struct {
	logger         *slog.Logger
	operatorToken  string
	actionSecret   string
	produceTimeout time.Duration
	reportTimeout  time.Duration
	kafkaOpts      []kgo.Opt
	now            func() time.Time
}

// WithLogger logs there. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithOperatorToken sets the operator credential (EnvOperatorToken). Default: none, every request is anonymous.
func WithOperatorToken(token string) Option { return func(o *options) { o.operatorToken = token } }

// WithActionSecret sets the secret Hasura sends to /actions (EnvActionSecret). Required.
func WithActionSecret(secret string) Option { return func(o *options) { o.actionSecret = secret } }

// WithProduceTimeout bounds how long an action waits for Kafka to acknowledge its messages before it answers
// with an error. Default DefaultProduceTimeout; keep it below the action's timeout in actions.yaml (30s), so the
// operator reads Kafka's problem rather than Hasura's timeout.
func WithProduceTimeout(d time.Duration) Option { return func(o *options) { o.produceTimeout = d } }

// WithReportTimeout bounds how long compareRuns or runHistory may take, with every GraphQL request it makes (each
// also bounded by graphql.timeout). Default DefaultReportTimeout; keep it below those actions' timeout in
// actions.yaml (60s).
func WithReportTimeout(d time.Duration) Option { return func(o *options) { o.reportTimeout = d } }

// WithKafkaOptions appends franz-go client options.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kafkaOpts = append(o.kafkaOpts, opts...) }
}

// Server is the operator API. Make it with New, serve Handler, Close it when done.
type Server struct {
	cfg    *config.Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	cl     *kgo.Client
	now    func() time.Time
	expiry time.Duration
	// Digests, not the secrets: compared with subtle.ConstantTimeCompare, they have a fixed length, so neither the
	// secret's content nor its length leaks through timing.
	tokenSum  *[sha256.Size]byte // nil: no operator token, everyone is anonymous
	secretSum [sha256.Size]byte
	timeout   time.Duration
	// reports reads runs over GraphQL (graphql.url) for compareRuns and runHistory; nil without graphql.url.
	reports       *compare.Client
	reportTimeout time.Duration
}

// New checks the options, opens the database pool (cfg.Sink.DatabaseURL) and the Kafka producer (cfg.Kafka) and
// returns the server. With cfg.GraphQL.URL it also answers compareRuns and runHistory, reading the runs from that
// endpoint as `producer compare` does (no request is made before an action asks); without it those two actions
// answer an error and the mutations work as ever. It does not wait for Kafka: an action made while Kafka is down fails after the produce
// timeout. The database is pinged, so a wrong URL or password stops the program at start.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (*Server, error) {
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), produceTimeout: DefaultProduceTimeout,
		reportTimeout: DefaultReportTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	var problems []error
	if o.actionSecret == "" {
		problems = append(problems, ErrNoActionSecret)
	}
	// /auth answers every request Hasura forwards, so a short token could be guessed by trying: refuse it.
	for _, sec := range []struct{ name, value string }{{EnvActionSecret, o.actionSecret}, {EnvOperatorToken, o.operatorToken}} {
		if n := len(sec.value); n > 0 && n < MinSecretLen {
			problems = append(problems, fmt.Errorf("%s is %d characters: use at least %d random ones (e.g. openssl rand -hex 24)", sec.name, n, MinSecretLen))
		}
	}
	if o.logger == nil {
		problems = append(problems, errors.New("api.WithLogger: nil logger"))
	}
	if o.produceTimeout <= 0 {
		problems = append(problems, fmt.Errorf("api.WithProduceTimeout: %s is not positive", o.produceTimeout))
	}
	if o.reportTimeout <= 0 {
		problems = append(problems, fmt.Errorf("api.WithReportTimeout: %s is not positive", o.reportTimeout))
	}
	var reports *compare.Client
	if cfg.GraphQL.URL != "" {
		var err error
		if reports, err = compare.NewClient(cfg.GraphQL); err != nil {
			problems = append(problems, fmt.Errorf("graphql.url: %w", err))
		}
	}
	if cfg.Fleet.JobsTopic == "" {
		problems = append(problems, errors.New("fleet.jobs_topic is empty"))
	}
	if cfg.Fleet.JobExpiry <= 0 {
		problems = append(problems, fmt.Errorf("fleet.job_expiry %s is not positive", cfg.Fleet.JobExpiry))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: o.logger, now: o.now, expiry: cfg.Fleet.JobExpiry, timeout: o.produceTimeout,
		secretSum: sha256.Sum256([]byte(o.actionSecret)), reports: reports, reportTimeout: o.reportTimeout}
	if o.operatorToken != "" {
		sum := sha256.Sum256([]byte(o.operatorToken))
		s.tokenSum = &sum
	}

	pcfg, err := pgxpool.ParseConfig(cfg.Sink.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("sink.database_url: %s", schema.RedactText(err.Error()))
	}
	pcfg.MaxConns = 4
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("database %s: %w", schema.RedactURL(cfg.Sink.DatabaseURL), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = s.pool.Ping(pctx)
	cancel()
	if err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", schema.RedactURL(cfg.Sink.DatabaseURL), err)
	}

	kopts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		s.pool.Close()
		return nil, err
	}
	kopts = append(kopts,
		kgo.DefaultProduceTopic(cfg.Fleet.JobsTopic),
		// A job's message must be in Kafka when the action says it was launched: every replica in sync (the
		// default acks), idempotent, and within the produce timeout or not at all.
		kgo.RecordDeliveryTimeout(o.produceTimeout),
		kgo.ProducerLinger(0),
	)
	kopts = append(kopts, o.kafkaOpts...)
	if s.cl, err = kgo.NewClient(kopts...); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if why := s.canWrite(ctx); why != "" {
		s.log.Warn("sink api connects to the database as a role that can write ("+why+"); it only reads agents and jobs: "+
			"connect it as a read-only role (the compose stack's GRAFANA_DB_USER)", "database", schema.RedactURL(cfg.Sink.DatabaseURL))
	}
	if s.tokenSum == nil {
		s.log.Warn(EnvOperatorToken + " is not set: every GraphQL request is anonymous, nobody can launch or stop jobs")
	}
	if s.reports == nil {
		s.log.Warn("graphql.url is not set: compareRuns and runHistory answer an error (sink api reads runs from the GraphQL endpoint)")
	}
	return s, nil
}

// canWrite says why the database role sink api connects as could change the tables ("" if it cannot): sink api
// only reads, so a role that can write (the sink's owner, a superuser) is more than a bug in it should be able to
// use. The check is read-only and best effort: an error (the views not migrated yet) says nothing.
func (s *Server) canWrite(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var super, insert bool
	var role string
	err := s.pool.QueryRow(ctx, `SELECT current_user, r.rolsuper, has_table_privilege('public.jobs', 'INSERT')
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&role, &super, &insert)
	switch {
	case err != nil:
		return ""
	case super:
		return role + " is a superuser"
	case insert:
		return role + " may insert into jobs"
	}
	return ""
}

// Close releases the Kafka client and the database pool.
func (s *Server) Close() {
	s.cl.Close()
	s.pool.Close()
}

// Handler serves /auth, /actions and /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth", s.serveAuth)
	mux.HandleFunc("POST /actions", s.serveActions)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// equalSecret compares got with the digest of a secret in constant time.
func equalSecret(got string, want *[sha256.Size]byte) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
