package recorder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrSecretInSpec is why a job spec holding a password is refused: jobs travel through Kafka and tables that
// anonymous readers see, so the password comes from the agent's environment (MQTT_PASSWORD, PGPASSWORD,
// ~/.pgpass) or configuration instead. Test for it with errors.Is.
var ErrSecretInSpec = errors.New("jobs carry no secrets")

// DecodeStrict decodes the JSON object b into v, which holds the defaults: a field b does not name keeps its
// default. Unknown fields are refused by name, and so are anything but one JSON object and trailing data: a job
// spec with a typo must not run with a default in its place.
func DecodeStrict(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("a spec is a JSON object, got %.40q", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("spec: data after the JSON object")
	}
	return nil
}

// SpecFields returns the names of the fields the JSON object b sets, so that a decoder can tell a field given
// as its zero value from one left out.
func SpecFields(b []byte) map[string]bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
