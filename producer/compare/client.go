package compare

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	graphql "github.com/hasura/go-graphql-client"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/schema"
)

// Errors Run and AfterRun report. Test for them with errors.Is; ExitCode maps them to exit codes.
var (
	// ErrUsage: bad flags, arguments or configuration (exit 2).
	ErrUsage = errors.New("usage")
	// ErrUnreachable: no GraphQL answer from the endpoint: connection refused, timeout, an HTTP error, or
	// something that is not a GraphQL endpoint (exit 3).
	ErrUnreachable = errors.New("GraphQL endpoint unreachable")
	// ErrRejected: the endpoint answered with an error: the anonymous role may not read a field the query needs,
	// or the schema does not match (exit 4).
	ErrRejected = errors.New("GraphQL endpoint refused the query")
	// ErrRunNotFound: no run with that id (exit 5).
	ErrRunNotFound = errors.New("run not found")
	// ErrNoBaseline: --baseline last found no comparable run (exit 6).
	ErrNoBaseline = errors.New("no comparable baseline")
	// ErrWaitTimeout: the run did not finish within the wait (exit 7).
	ErrWaitTimeout = errors.New("timed out waiting for the run to finish")
)

// client reads runs from the Hasura endpoint as the anonymous role.
type client struct {
	gql     *graphql.Client
	url     string // for messages: credentials removed
	timeout time.Duration
}

// newClient makes a client for the configured endpoint; urlOverride (--url) wins over graphql.url.
func newClient(cfg config.GraphQL, urlOverride string) (*client, error) {
	endpoint := cfg.URL
	if urlOverride != "" {
		endpoint = urlOverride
	}
	if endpoint == "" {
		return nil, fmt.Errorf("%w: no GraphQL endpoint: set graphql.url in the configuration (e.g. http://server/v1/graphql) or pass --url", ErrUsage)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: GraphQL endpoint %q is not an http(s) URL", ErrUsage, schema.RedactURL(endpoint))
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = config.Default().GraphQL.Timeout
	}
	gql := graphql.NewClient(endpoint, &http.Client{Timeout: timeout})
	if len(cfg.Headers) > 0 {
		headers := cfg.Headers
		gql = gql.WithRequestModifier(func(r *http.Request) {
			for k, v := range headers {
				r.Header.Set(k, v)
			}
		})
	}
	return &client{gql: gql, url: schema.RedactURL(endpoint), timeout: timeout}, nil
}

// query runs q with vars; what says what was being fetched, for the error.
func (c *client) query(ctx context.Context, what string, q any, vars map[string]any) error {
	err := c.gql.Query(ctx, q, vars)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, c.classify(ctx, err))
}

// classify turns the GraphQL client's error into one of the package's errors with a message that says what to
// do next.
func (c *client) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var errs graphql.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	e := errs[0]
	code, _ := e.Extensions["code"].(string)
	switch code {
	case graphql.ErrRequestError:
		var ne graphql.NetworkError
		if errors.As(err, &ne) {
			body := strings.TrimSpace(ne.Body())
			if len(body) > 300 {
				body = body[:300] + "…"
			}
			switch ne.StatusCode() {
			case http.StatusUnauthorized, http.StatusForbidden:
				return fmt.Errorf("%w: %s answered HTTP %d %s: the endpoint wants credentials; benchpipe reads as Hasura's "+
					"anonymous role (a request without Authorization, which sink api's auth webhook makes anonymous), or put the needed header in graphql.headers",
					ErrRejected, c.url, ne.StatusCode(), body)
			case http.StatusNotFound:
				return fmt.Errorf("%w: %s answered HTTP 404: is graphql.url (or --url) the GraphQL endpoint, e.g. http://server/v1/graphql?",
					ErrUnreachable, c.url)
			}
			return fmt.Errorf("%w: %s answered HTTP %d %s", ErrUnreachable, c.url, ne.StatusCode(), body)
		}
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("%w: no answer from %s within %s (graphql.timeout); is Hasura running and reachable from here?",
				ErrUnreachable, c.url, c.timeout)
		}
		return fmt.Errorf("%w: %s: %s; check graphql.url (or --url) and that Hasura is running (GET /healthz)",
			ErrUnreachable, c.url, e.Message)
	case graphql.ErrJsonDecode:
		return fmt.Errorf("%w: %s did not answer with GraphQL JSON (%s); is graphql.url the Hasura endpoint, e.g. http://server/v1/graphql?",
			ErrUnreachable, c.url, e.Message)
	case graphql.ErrGraphQLDecode:
		return fmt.Errorf("%w: %s answered in an unexpected shape (%s); is it benchpipe's Hasura?", ErrRejected, c.url, e.Message)
	}
	path, _ := e.Extensions["path"].(string)
	detail := e.Message
	if code != "" || path != "" {
		detail = fmt.Sprintf("%s [%s at %s]", e.Message, code, path)
	}
	if code == "validation-failed" && strings.Contains(e.Message, "not found in type") {
		return fmt.Errorf("%w: %s: %s; the anonymous role must be allowed to select the runs and samples columns this "+
			"command reads: apply deploy/hasura/metadata to the server (hasura metadata apply) or ask its operator",
			ErrRejected, c.url, detail)
	}
	return fmt.Errorf("%w: %s: %s", ErrRejected, c.url, detail)
}
