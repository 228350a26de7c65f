package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Hasura's scalars, as Go types the GraphQL client can send and receive. go-graphql-client v0.15.1 declares a
// variable with the type GetGraphQLType returns and appends "!" itself for a non-pointer value, so the methods
// return the bare name: a uuidScalar variable is declared "$id: uuid!". (Returning "uuid!" would declare
// "uuid!!", which Hasura rejects.)

// uuidScalar is Hasura's uuid.
type uuidScalar uuid.UUID

// GetGraphQLType names the scalar for variable declarations.
func (uuidScalar) GetGraphQLType() string { return "uuid" }

// MarshalJSON writes the canonical text form.
func (u uuidScalar) MarshalJSON() ([]byte, error) { return json.Marshal(uuid.UUID(u).String()) }

// UnmarshalJSON reads the text form.
func (u *uuidScalar) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("uuid: %w", err)
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return fmt.Errorf("uuid: %w", err)
	}
	*u = uuidScalar(id)
	return nil
}

// timestamptz is Hasura's timestamptz (RFC 3339 text, e.g. 2026-01-02T03:04:05.123456+00:00).
type timestamptz struct{ time.Time }

// GetGraphQLType names the scalar for variable declarations.
func (timestamptz) GetGraphQLType() string { return "timestamptz" }

// jsonb is Hasura's jsonb: any JSON value, sent and received as JSON (not as a string).
type jsonb json.RawMessage

// GetGraphQLType names the scalar for variable declarations.
func (jsonb) GetGraphQLType() string { return "jsonb" }

// MarshalJSON writes the JSON value itself; empty is null.
func (j jsonb) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the JSON value.
func (j *jsonb) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

// bigint is Hasura's bigint. Hasura sends it as a JSON number, or as a string when the server runs with
// HASURA_GRAPHQL_STRINGIFY_NUMERIC_TYPES; both are accepted.
type bigint int64

// GetGraphQLType names the scalar for variable declarations.
func (bigint) GetGraphQLType() string { return "bigint" }

// UnmarshalJSON accepts a number or a string holding one.
func (n *bigint) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(string(bytes.Trim(b, `"`)), 10, 64)
	if err != nil {
		return fmt.Errorf("bigint: %w", err)
	}
	*n = bigint(v)
	return nil
}

// float8 is Hasura's float8: a JSON number, or a string (stringified numerics, and PostgreSQL's "NaN",
// "Infinity", "-Infinity", which JSON numbers cannot carry).
type float8 float64

// GetGraphQLType names the scalar for variable declarations.
func (float8) GetGraphQLType() string { return "float8" }

// UnmarshalJSON accepts a number or a string holding one.
func (f *float8) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "NaN":
		*f = float8(math.NaN())
		return nil
	case "Infinity":
		*f = float8(math.Inf(1))
		return nil
	case "-Infinity":
		*f = float8(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("float8: %w", err)
	}
	*f = float8(v)
	return nil
}
