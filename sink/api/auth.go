package api

import (
	"net/http"
	"strings"
)

// serveAuth is Hasura's authentication webhook in GET mode: Hasura calls it with the client's headers and takes
// the session variables from a 200 answer; a 401 refuses the client's request.
//
//   - no Authorization header: {"X-Hasura-Role": "anonymous"}, the read-only role;
//   - "Authorization: Bearer <token>" with the operator token: {"X-Hasura-Role": "operator"};
//   - anything else (another token, another scheme, a token with bytes around it, two Authorization headers): 401.
//     A wrong token must not quietly read as anonymous: the operator would see "launchJobs not found" instead of
//     "your token is wrong".
//
// Without an operator token configured nobody can be operator, and every request is anonymous.
func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 || s.tokenSum == nil {
		writeJSON(w, http.StatusOK, map[string]string{"X-Hasura-Role": RoleAnonymous})
		return
	}
	// The scheme is case-insensitive (RFC 9110 section 11.1); the token is everything after one space.
	scheme, token, ok := strings.Cut(values[0], " ")
	if len(values) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || !equalSecret(token, s.tokenSum) {
		// Neither the header nor the token is logged: a near-miss token is most of the token.
		s.log.Warn("auth: refused a request with a wrong operator credential")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "invalid operator credential: send Authorization: Bearer <operator token>, or no Authorization header for read-only access"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"X-Hasura-Role": RoleOperator})
}
