package jobkind

import (
	"fmt"
	"sort"
	"strings"

	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// SecretError is why Decode refuses a spec that holds a secret anywhere, whichever field holds it. Job messages,
// job events and the jobs table are readable by operators and go through Kafka in clear: the design keeps secrets
// out of them altogether rather than masking them. errors.Is(err, recorder.ErrSecretInSpec) holds for it, as for
// the kinds' own refusals of a password.
type SecretError struct {
	Where string // "spec.broker holds a credential", "spec.password"
}

func (e *SecretError) Error() string {
	// Where names keys of the spec, which the sender chose: a key can hold the secret itself.
	return fmt.Sprintf("spec holds a secret (%s): jobs carry no passwords; the agent takes them from its own environment or configuration",
		schema.RedactText(e.Where))
}

func (e *SecretError) Unwrap() error { return recorder.ErrSecretInSpec }

// secretIn returns where v (a decoded JSON value) holds a secret, "" when it holds none: a member named like a
// secret (SecretName) with a value other than null, false or "", or a string from which redaction would remove a
// credential (postgres://u:pw@h, host=h password=pw).
//
// The kinds' DecodeSpec refuses unknown members and a password in the connection strings it knows (mqtt's broker,
// pgbench's arguments), but not a credential in its other strings (an mqtt topic or TLS file path, pgbench's
// log_dir); this scan refuses those, and names a secret member as a secret rather than as an unknown field.
func secretIn(path string, v any) string {
	switch x := v.(type) {
	case string:
		if schema.RedactText(x) != x {
			return path + " holds a credential"
		}
	case []any:
		for i, e := range x {
			if w := secretIn(fmt.Sprintf("%s[%d]", path, i), e); w != "" {
				return w
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if SecretName(k) && !emptyJSON(x[k]) {
				return path + "." + k
			}
			if w := secretIn(path+"."+k, x[k]); w != "" {
				return w
			}
		}
	}
	return ""
}

// SecretName reports whether a key or field name names a secret: password, passwd, secret, token, in any case and
// within a longer name (sslpassword, api_token).
func SecretName(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token") ||
		strings.Contains(k, "passwd")
}

func emptyJSON(v any) bool { return v == nil || v == false || v == "" }
