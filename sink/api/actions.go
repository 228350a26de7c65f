package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// actionRequest is the body Hasura POSTs to an action's handler.
type actionRequest struct {
	Action struct {
		Name string `json:"name"`
	} `json:"action"`
	Input            json.RawMessage   `json:"input"`
	SessionVariables map[string]string `json:"session_variables"` // keys in lower case
	RequestQuery     string            `json:"request_query"`
}

// actionError is an action's error as Hasura expects it from a handler: HTTP 4xx and {"message", "extensions"}.
// Hasura passes message and extensions on to the GraphQL client.
type actionError struct {
	status  int
	Message string         `json:"message"`
	Ext     map[string]any `json:"extensions,omitempty"`
}

func (e *actionError) Error() string { return e.Message }

// Error codes, in extensions.code.
const (
	codeUnauthorized = "unauthorized" // no or wrong action secret: not Hasura calling
	codeForbidden    = "forbidden"    // the session's role may not call the action
	codeInvalid      = "invalid"      // the request cannot be run as it is (bad input, no agent, bad spec)
	codeUnavailable  = "unavailable"  // Kafka, the database or GraphQL failed; the same request may work later
)

func invalid(format string, args ...any) *actionError {
	return &actionError{status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Ext: map[string]any{"code": codeInvalid}}
}

func unavailable(format string, args ...any) *actionError {
	return &actionError{status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Ext: map[string]any{"code": codeUnavailable}}
}

// maxActionBody bounds what /actions reads: a launch's spec is a few hundred bytes.
const maxActionBody = 1 << 20

// serveActions is the handler of every action. The action secret and the role (operator for the mutations,
// anonymous or operator for the query actions) are checked before the input is looked at; a refused request
// produces nothing.
func (s *Server) serveActions(w http.ResponseWriter, r *http.Request) {
	secrets := r.Header.Values(ActionSecretHeader)
	if len(secrets) != 1 || !equalSecret(secrets[0], &s.secretSum) {
		s.log.Warn("actions: refused a request without the action secret")
		writeJSON(w, http.StatusUnauthorized, &actionError{Message: "missing or wrong " + ActionSecretHeader + ": only Hasura may call /actions", Ext: map[string]any{"code": codeUnauthorized}})
		return
	}
	var req actionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxActionBody+1))
	if err == nil && len(body) > maxActionBody {
		err = fmt.Errorf("more than %d bytes", maxActionBody)
	}
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, "", invalid("action request: %v", err))
		return
	}
	// The mutations are the operator's; the query actions are read-only and anyone's who may read runs.
	query := req.Action.Name == "compareRuns" || req.Action.Name == "runHistory"
	role := req.SessionVariables["x-hasura-role"]
	if role != RoleOperator && !(query && role == RoleAnonymous) {
		if role == "" {
			role = "none"
		}
		need := RoleOperator
		if query {
			need = RoleAnonymous + " or " + RoleOperator
		}
		s.fail(w, req.Action.Name, &actionError{status: http.StatusForbidden, Message: fmt.Sprintf("%s needs role %s (this request's role: %s)", req.Action.Name, need, role), Ext: map[string]any{"code": codeForbidden}})
		return
	}
	var out any
	switch req.Action.Name {
	case "launchJobs":
		var in launchInput
		if err = decodeInput(req.Input, &in); err == nil {
			out, err = s.launch(r.Context(), in)
		}
	case "stopJobs":
		var in stopInput
		if err = decodeInput(req.Input, &in); err == nil {
			out, err = s.stop(r.Context(), in)
		}
	case "compareRuns":
		var in compareInput
		if err = decodeInput(req.Input, &in); err == nil {
			out, err = s.compareRuns(r.Context(), in)
		}
	case "runHistory":
		var in historyInput
		if err = decodeInput(req.Input, &in); err == nil {
			out, err = s.runHistory(r.Context(), in)
		}
	default:
		err = invalid("unknown action %q (launchJobs, stopJobs, compareRuns or runHistory)", req.Action.Name)
	}
	if err != nil {
		s.fail(w, req.Action.Name, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// fail answers err as an action error. Anything not already an actionError is a failure of the database or Kafka.
func (s *Server) fail(w http.ResponseWriter, action string, err error) {
	var ae *actionError
	if !errors.As(err, &ae) {
		ae = unavailable("%s", err.Error())
	}
	s.log.Warn("action refused", "action", action, "code", ae.Ext["code"], "reason", ae.Message)
	writeJSON(w, ae.status, ae)
}

// decodeInput decodes an action's input strictly: an argument the handler does not know means actions.graphql and
// this package disagree, which must fail rather than be ignored.
func decodeInput(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("input: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
