package fleetcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	graphql "github.com/hasura/go-graphql-client"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/schema"
)

// EnvOperatorToken holds the operator credential, the same value `sink api` is given. It is read from the
// environment only: a flag would put it in the shell history and the process list.
const EnvOperatorToken = "BENCHPIPE_OPERATOR_TOKEN"

// errNoToken is the one-line error of a command that needs the operator token when it is not set.
var errNoToken = errors.New(EnvOperatorToken + " is not set: export the operator token (the one sink api was given) to launch or stop jobs")

// client is a GraphQL client for the operator API.
type client struct {
	gql *graphql.Client
	url string // redacted, for messages
}

// newClient connects to cfg's endpoint, sending token as a bearer token when it is not empty.
func newClient(cfg config.GraphQL, token string) (*client, error) {
	if cfg.URL == "" {
		return nil, errors.New("no GraphQL endpoint: set graphql.url in the configuration (e.g. http://server/v1/graphql)")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("GraphQL endpoint %q is not an http(s) URL", schema.RedactURL(cfg.URL))
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = config.Default().GraphQL.Timeout
	}
	headers := cfg.Headers
	gql := graphql.NewClient(cfg.URL, &http.Client{Timeout: timeout}).WithRequestModifier(func(r *http.Request) {
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	})
	return &client{gql: gql, url: schema.RedactURL(cfg.URL)}, nil
}

// operatorToken returns the token from the environment, or errNoToken.
// openClient reads graphql.url from the configuration at configPath and returns a client sending token ("" =
// anonymous); on failure it says why on stderr and returns nil and the exit status.
func openClient(prog, configPath, token string, stderr io.Writer) (*client, int) {
	cfg, err := config.Resolve(configPath, config.SectionGraphQL)
	if err != nil {
		return nil, cli.FailConfig(stderr, prog, err, cli.ExitUsage)
	}
	c, err := newClient(cfg.GraphQL, token)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return nil, cli.ExitUsage
	}
	return c, 0
}

func operatorToken() (string, error) {
	t := strings.TrimSpace(os.Getenv(EnvOperatorToken))
	if t == "" {
		return "", errNoToken
	}
	return t, nil
}

// exec runs query with vars and decodes its data into out; what says what was being done, for the error. A
// GraphQL error is reported with its message, and an access-denied one says what to check.
func (c *client) exec(ctx context.Context, what, query string, vars map[string]any, out any) error {
	data, err := c.gql.ExecRaw(ctx, query, vars)
	if err != nil {
		var gerrs graphql.Errors
		if errors.As(err, &gerrs) && len(gerrs) > 0 {
			e := gerrs[0]
			code, _ := e.Extensions["code"].(string)
			switch code {
			case "access-denied":
				return fmt.Errorf("%s: %s refused the operator token (%s): check %s", what, c.url, e.Message, EnvOperatorToken)
			case "validation-failed":
				if strings.Contains(e.Message, "mutation") {
					return fmt.Errorf("%s: %s: %s (is the operator token right, and are the fleet actions in Hasura's metadata?)", what, c.url, e.Message)
				}
			}
			return fmt.Errorf("%s: %s", what, e.Message)
		}
		return fmt.Errorf("%s: %s: %s", what, c.url, schema.RedactText(err.Error()))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: %s answered unexpected data: %w", what, c.url, err)
	}
	return nil
}
