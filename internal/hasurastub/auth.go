package hasurastub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// authenticate decides who a request runs as. Without an auth webhook every request gets the fixed role. With
// one, the webhook is called as Hasura calls it in GET mode (Hasura.Server.Auth.WebHook, userInfoFromAuthHook):
// a GET with the client's headers except the ignored ones (Content-Type, User-Agent, Host, …); a 200 answer is a
// JSON object whose X-Hasura-* keys (case-insensitive) are the session variables and must include X-Hasura-Role;
// a 401 refuses the request ("access-denied"); any other status, a body that is not such an object, or a webhook
// that cannot be reached is Hasura's internal error ("unexpected").
func (s *Server) authenticate(ctx context.Context, h http.Header) (*session, *gqlError) {
	if s.authHook == "" {
		return &session{role: s.role, vars: map[string]string{"x-hasura-role": s.role}, headers: h}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.authHook, nil)
	if err != nil {
		return nil, &gqlError{Message: "webhook authentication request failed", Code: codeUnexpected, Path: "$"}
	}
	for name, vals := range h {
		if !ignoredHeader(name) {
			req.Header[http.CanonicalHeaderKey(name)] = vals
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &gqlError{Message: "webhook authentication request failed", Code: codeUnexpected, Path: "$"}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return nil, &gqlError{Message: "webhook authentication request failed", Code: codeUnexpected, Path: "$"}
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, &gqlError{Message: "Authentication hook unauthorized this request", Code: "access-denied", Path: "$"}
	case resp.StatusCode != http.StatusOK:
		return nil, &gqlError{Message: "Invalid response from authorization hook", Code: codeUnexpected, Path: "$"}
	}
	var raw map[string]string
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &gqlError{Message: "Invalid response from authorization hook: " + err.Error(), Code: codeUnexpected, Path: "$"}
	}
	vars := map[string]string{}
	for k, v := range raw {
		if k := strings.ToLower(k); strings.HasPrefix(k, "x-hasura-") {
			vars[k] = v
		}
	}
	role, ok := vars["x-hasura-role"]
	if !ok {
		// Hasura.Session (mkUserInfo, URBFromSessionVariables).
		return nil, &gqlError{Message: "x-hasura-role not found in session variables", Code: "invalid-params", Path: "$"}
	}
	return &session{role: role, vars: vars, headers: h}, nil
}
