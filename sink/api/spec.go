package api

import (
	"encoding/json"
	"strings"

	"github.com/benchpipe/benchpipe/producer/jobkind"
	"github.com/benchpipe/benchpipe/schema"
)

// checkSpec refuses a spec as the agent would (not a JSON object, a secret in it, what the kind's decoder refuses),
// before anything is produced, and returns it as the kind decoded it (defaults filled in), which is what the job
// carries: the job says exactly what will run.
func checkSpec(kind string, spec json.RawMessage) (json.RawMessage, error) {
	k, known := jobkind.Lookup(kind)
	if !known {
		return nil, invalid("kind %q is not %s", kind, jobkind.Either())
	}
	decoded, err := k.Decode(spec)
	if err != nil {
		return nil, invalid("%s", schema.RedactText(strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	return decoded, nil
}

// stringMap decodes an optional JSON object of strings (a jsonb argument): nil for null or absent.
func stringMap(what string, raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid("%s must be a JSON object of strings, like {\"site\": \"lab\"}", what)
	}
	for k, v := range m {
		if k == "" {
			return nil, invalid("%s: a key is empty", what)
		}
		if schema.RedactText(k) != k || schema.RedactText(v) != v || jobkind.SecretName(k) {
			return nil, invalid("%s.%s holds a secret: jobs carry no passwords", what, k)
		}
	}
	return m, nil
}
