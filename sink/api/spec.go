package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/schema"
)

// specDecoders read a job's spec for each kind with the kind's own decoder, the one the agent runs the job with,
// so a spec the agent would refuse is refused here, before anything is produced. They return the spec as the
// decoder read it (defaults filled in), which is what the job carries: the job says exactly what will run.
var specDecoders = map[string]func(json.RawMessage) (json.RawMessage, error){
	schema.KindMQTT: func(b json.RawMessage) (json.RawMessage, error) {
		s, err := mqttload.DecodeSpec(b)
		return s.JSON(), err
	},
	schema.KindPgbench: func(b json.RawMessage) (json.RawMessage, error) {
		s, err := pgbench.DecodeSpec(b)
		return s.JSON(), err
	},
}

// checkSpec refuses a spec that is not a JSON object, that holds a secret, or that the kind's decoder refuses,
// and returns the spec as decoded.
func checkSpec(kind string, spec json.RawMessage) (json.RawMessage, error) {
	decode, known := specDecoders[kind]
	if !known {
		return nil, invalid("kind %q is not %s or %s", kind, schema.KindMQTT, schema.KindPgbench)
	}
	var obj map[string]any
	if err := json.Unmarshal(spec, &obj); err != nil || obj == nil {
		return nil, invalid("spec must be a JSON object (the %s job's parameters)", kind)
	}
	if where := secretIn("spec", obj); where != "" {
		return nil, invalid("spec holds a secret (%s): jobs carry no passwords; the agent takes them from its own environment or configuration", where)
	}
	decoded, err := decode(spec)
	if err != nil {
		return nil, invalid("%s", schema.RedactText(strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	return decoded, nil
}

// secretIn returns where v (a decoded JSON value) holds a secret, "" when it holds none: a member named like a
// secret (password, secret, token, as the redaction of records names them) with a value other than null, false
// or "", or a string from which redaction would remove a credential (postgres://u:pw@h, host=h password=pw).
// Job messages and the jobs table are readable by operators and go through Kafka in clear: the design keeps
// secrets out of them altogether rather than masking them.
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
			if secretName(k) && !emptyJSON(x[k]) {
				return path + "." + k
			}
			if w := secretIn(path+"."+k, x[k]); w != "" {
				return w
			}
		}
	}
	return ""
}

func secretName(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token") ||
		strings.Contains(k, "passwd")
}

func emptyJSON(v any) bool { return v == nil || v == false || v == "" }

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
		if schema.RedactText(k) != k || schema.RedactText(v) != v || secretName(k) {
			return nil, invalid("%s.%s holds a secret: jobs carry no passwords", what, k)
		}
	}
	return m, nil
}
