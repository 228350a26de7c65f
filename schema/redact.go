package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Redaction. Everything a record carries is readable by Hasura's anonymous role, so no credential may reach a
// record, and none may reach stdout, --summary-json or a log either. Two mechanisms work together:
//
//   - Structure: RedactURL removes the password from one connection string — a URI (postgresql://, tcp://,
//     ssl://, …) or a libpq key=value string — and RedactText does the same for every URI and password=…
//     fragment inside free text (pgbench's error output, an error message). Connection strings are read the way
//     libpq reads them, not with net/url, which refuses passwords holding '#', '%' or '/' that libpq accepts
//     and then used to leave the whole string unchanged. What cannot be parsed is masked, never passed through.
//   - Known values: a Redactor also masks the secrets the process knows (the password in the arguments,
//     $PGPASSWORD, $MQTT_PASSWORD, service-file passwords) wherever they appear, in any form: free text such as
//     libpq's "invalid percent-encoded token: "50%off"" echoes a password without any structure around it.
//
// Encode and Decode apply the structural part to every free-text field of a record (name, tags, parameters,
// error, summary extra), so a record from any producer — also one in another language — is clean when it reaches
// a table; producers add the known values with a Redactor.

// Mask replaces a secret value that is masked in place (rather than dropped with its key).
const Mask = "****"

// minSecretLen is the shortest known secret that is masked wherever it appears: masking every "pw" or "a" in
// a text would destroy the text and protect nothing (such a password is no protection either).
const minSecretLen = 3

// secretKey reports whether a connection keyword or query parameter names a secret: libpq's password and
// sslpassword, and the password/secret/token parameters of other URLs.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// RedactURL returns s, one connection string, without its credentials:
//
//   - a URI (postgresql://user:pw@host/db, tcp://user:pw@broker:1883, ssl://…): the password of the user
//     information is dropped (postgresql://user@host/db), and so are query parameters that name a secret
//     (password, sslpassword, …). The user information is taken to end at the last '@' in s, so a password
//     holding '/', '#', '?', '%' or '@' — which net/url refuses and libpq partly misreads — is dropped whole;
//   - a libpq key=value string (host=db password='it\'s' dbname=x): the pairs naming a secret are dropped,
//     values read the way libpq reads them (single quotes, backslash escapes). Where a string that mentions a
//     password stops parsing, the rest is replaced by Mask;
//   - user:pw@host without a scheme: the password is dropped.
//
// Anything else (host:port, a plain database name) is returned unchanged, as is a string without credentials.
// Use it on every connection string that reaches a record, an output or a log; for free text use RedactText.
func RedactURL(s string) string {
	if i := schemeEnd(s); i > 0 {
		return s[:i] + redactURIRest(s[i:])
	}
	if looksLikeConnInfo(s) {
		return redactConnInfo(s)
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if c := strings.IndexByte(s[:at], ':'); c >= 0 {
			return s[:c] + s[at:]
		}
	}
	return s
}

// schemeEnd returns the index just past "scheme://" when s starts with a URI scheme (RFC 3986: a letter, then
// letters, digits, '+', '-', '.'), else 0.
func schemeEnd(s string) int {
	i := strings.Index(s, "://")
	if i <= 0 || !isSchemeStart(s[0]) {
		return 0
	}
	for j := 1; j < i; j++ {
		if !isSchemeChar(s[j]) {
			return 0
		}
	}
	return i + 3
}

func isSchemeStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeChar(c byte) bool {
	return isSchemeStart(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// redactURIRest redacts what follows "scheme://".
//
// libpq (conninfo_uri_parse_options in fe-connect.c) takes the user information to end at the first '@' that
// comes before any '/', and the password to run from the first ':' to that '@'. A password holding '/' thus
// makes libpq read no user information at all and take pieces of the password as host, port and database name;
// one holding '@' makes it take the rest as the host. Taking the user information to end at the last '@' covers
// every one of these readings: nothing libpq could take for a password survives.
func redactURIRest(rest string) string {
	out := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		if c := strings.IndexByte(userinfo, ':'); c >= 0 {
			out = userinfo[:c] + rest[at:]
		}
	}
	return redactQuery(out)
}

// redactQuery drops the query parameters of a URI (the part from the first '?' after the host) that name a
// secret, and any parameter whose name is not valid percent-encoding (it could be one).
func redactQuery(rest string) string {
	start := 0
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		start = at
	}
	q := strings.IndexByte(rest[start:], '?')
	if q < 0 {
		return rest
	}
	q += start
	query := rest[q+1:]
	fragment := ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, fragment = query[:h], query[h:]
	}
	params := strings.Split(query, "&")
	kept := params[:0]
	for _, p := range params {
		k, _, _ := strings.Cut(p, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil || secretKey(dk) || secretKey(k) {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == len(params) {
		return rest
	}
	if len(kept) == 0 {
		return rest[:q] + fragment
	}
	return rest[:q+1] + strings.Join(kept, "&") + fragment
}

// looksLikeConnInfo reports whether s is a libpq key=value string: it starts with a keyword followed by '='.
func looksLikeConnInfo(s string) bool {
	s = strings.TrimLeft(s, " \t\r\n")
	i := 0
	for i < len(s) && (isSchemeChar(s[i]) || s[i] == '_') {
		i++
	}
	if i == 0 {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(s[i:], " \t\r\n"), "=")
}

// connInfoPair is one keyword=value of a libpq connection string as it was written.
type connInfoPair struct {
	start, end int // of the pair in the string, leading blanks excluded
	key, value string
}

// parseConnInfo reads a libpq key=value string as conninfo_parse (fe-connect.c) does: a keyword ends at
// blank or '='; blanks may surround '='; a value is single-quoted (backslash escapes anything, a quote ends
// it) or runs to the next blank (backslash escapes the next character). It returns the pairs read and, when
// the string stops parsing, the offset of the pair where it stopped (else -1).
func parseConnInfo(s string) (pairs []connInfoPair, failAt int) {
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return pairs, -1
		}
		start := i
		for i < len(s) && !isBlank(s[i]) && s[i] != '=' {
			i++
		}
		key := s[start:i]
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' || key == "" {
			return pairs, start
		}
		i++
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '\'' {
					i++
					closed = true
					break
				}
				v.WriteByte(s[i])
				i++
			}
			if !closed {
				return pairs, start
			}
		} else {
			for i < len(s) && !isBlank(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		pairs = append(pairs, connInfoPair{start: start, end: i, key: key, value: v.String()})
	}
}

// redactConnInfo drops the pairs of a key=value string that name a secret, keeping the others as written.
// When the string stops parsing and mentions a password, the unparsed rest is replaced by Mask.
func redactConnInfo(s string) string {
	pairs, failAt := parseConnInfo(s)
	var b strings.Builder
	changed := false
	for _, p := range pairs {
		if secretKey(p.key) {
			changed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[p.start:p.end])
	}
	if failAt >= 0 {
		// The pair where parsing stopped may be (or may have swallowed) a password, or its quotes may have
		// ended where the writer did not mean them to: with a password anywhere in s, mask the rest.
		rest := s[failAt:]
		if secretKey(s) {
			rest, changed = Mask, true
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(rest)
	}
	if !changed {
		return s
	}
	return b.String()
}

// passwordPairRE finds password=value fragments in free text: libpq's password and sslpassword keywords (any
// keyword ending in "password"), a quoted value with escapes (an unterminated one runs to the end), or an
// unquoted one up to the next blank.
var passwordPairRE = regexp.MustCompile(`(?i)([a-z_]*password)\s*=\s*(?:'(?:\\.|[^'\\])*'?|(?:\\.|[^\s\\])*\\?)`)

// RedactText removes credentials from free text (an error message, a tool's output): the password of every URI
// in it (see RedactURL; in text a URI ends at the first blank) and every password=value fragment. Known secret
// values without such structure around them need a Redactor.
func RedactText(s string) string {
	if strings.Contains(s, "://") {
		s = redactURIsInText(s)
	}
	if strings.Contains(strings.ToLower(s), "password") {
		s = passwordPairRE.ReplaceAllString(s, "${1}="+Mask)
	}
	return s
}

// redactURIsInText applies RedactURL to each scheme://… token of s.
func redactURIsInText(s string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			break
		}
		i += from
		start := i
		for start > last && isSchemeChar(s[start-1]) {
			start--
		}
		for start < i && !isSchemeStart(s[start]) { // a scheme starts with a letter
			start++
		}
		end := i + 3
		for end < len(s) && !isBlankByte(s[end]) {
			end++
		}
		if start < i {
			b.WriteString(s[last:start])
			b.WriteString(s[start:i+3] + redactURIRest(s[i+3:end]))
			last = end
		}
		from = max(end, i+3)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isBlankByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// ConnSecrets returns the passwords a connection argument holds, in every form they may be echoed in (as
// written, percent-decoded and percent-encoded): a URI's password under both libpq's reading (up to the first
// '@' before any '/') and the last '@', with the pieces libpq would take for host, port and database; a
// key=value string's password and sslpassword values. The argument may carry an option prefix
// (--dbname=postgresql://…). Nil when there is none.
func ConnSecrets(arg string) []string {
	var out []string
	add := func(v string) {
		for _, s := range []string{v, pathUnescaped(v), url.PathEscape(v), url.QueryEscape(v)} {
			if s != "" && !containsString(out, s) {
				out = append(out, s)
			}
		}
	}
	if i := strings.Index(arg, "://"); i >= 0 {
		rest := arg[i+3:]
		// libpq's reading: the user information ends at the first '@' before any '/'.
		if end := strings.IndexAny(rest, "@/"); end >= 0 && rest[end] == '@' {
			if _, pw, ok := strings.Cut(rest[:end], ":"); ok {
				add(pw)
			}
		}
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
				// What libpq would take for host, port and database when the password holds '/' or '@'.
				for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return r == '/' || r == '@' || r == ':' }) {
					if len(piece) >= minSecretLen && piece != pw {
						add(piece)
					}
				}
			}
		}
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			for _, p := range strings.Split(rest[q+1:], "&") {
				if k, v, ok := strings.Cut(p, "="); ok && secretKey(k) {
					add(v)
				}
			}
		}
		return out
	}
	s := arg
	if j := strings.Index(strings.ToLower(s), "password"); j >= 0 && !looksLikeConnInfo(s) {
		s = s[j:] // e.g. --dbname=host=db password=x: start at the keyword
	}
	pairs, failAt := parseConnInfo(s)
	for _, p := range pairs {
		if secretKey(p.key) {
			add(p.value)
		}
	}
	if failAt >= 0 && secretKey(s[failAt:]) {
		// An unterminated quote: everything after the '=' may be the password.
		if _, v, ok := strings.Cut(s[failAt:], "="); ok {
			add(strings.TrimLeft(strings.TrimSpace(v), "'"))
		}
	}
	return out
}

// pathUnescaped is v percent-decoded, "" when it is not valid percent-encoding.
func pathUnescaped(v string) string {
	d, err := url.PathUnescape(v)
	if err != nil {
		return ""
	}
	return d
}

// Environment variables whose values are secrets.
var secretEnv = []string{"PGPASSWORD", "MQTT_PASSWORD", "KAFKA_PASSWORD", "PERFTARGET_PASSWORD"}

// EnvSecrets returns the secrets in the environment: $PGPASSWORD, $MQTT_PASSWORD, $KAFKA_PASSWORD,
// $PERFTARGET_PASSWORD, the passwords of connection strings in $PGDATABASE and $DATABASE_URL, and every password
// in the libpq service files ($PGSERVICEFILE or ~/.pg_service.conf, and $PGSYSCONFDIR/pg_service.conf).
func EnvSecrets(getenv func(string) string) []string {
	var out []string
	for _, k := range secretEnv {
		if v := getenv(k); v != "" {
			out = append(out, v)
		}
	}
	for _, k := range []string{"PGDATABASE", "DATABASE_URL"} {
		out = append(out, ConnSecrets(getenv(k))...)
	}
	files := []string{getenv("PGSERVICEFILE")}
	if files[0] == "" {
		if home := getenv("HOME"); home != "" {
			files[0] = filepath.Join(home, ".pg_service.conf")
		}
	}
	if dir := getenv("PGSYSCONFDIR"); dir != "" {
		files = append(files, filepath.Join(dir, "pg_service.conf"))
	}
	for _, f := range files {
		out = append(out, serviceFileSecrets(f)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// serviceFileSecrets returns every password= value of a libpq service file (an INI file: [service] sections of
// keyword=value lines); nil when it cannot be read.
func serviceFileSecrets(path string) []string {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && secretKey(strings.TrimSpace(k)) && strings.TrimSpace(v) != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// Redactor masks known secret values and, like RedactText, credentials in connection strings. Make one per
// process or run with NewRedactor, add the secrets it learns with Add before output starts, and pass every
// text that leaves the process through it. A nil *Redactor does the structural part only. Safe for concurrent
// use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so that a secret containing another is masked whole
}

// NewRedactor returns a Redactor for secrets (empty and too short ones are ignored).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets to mask.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < minSecretLen || containsString(r.secrets, s) {
			continue
		}
		r.secrets = append(r.secrets, s)
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Text returns s with every known secret replaced by Mask and credentials removed as RedactText does.
//
// A secret is masked where it stands as a token of its own, not inside a longer word: a password "postgres"
// (common on test machines) is masked in "postgres@db" and in "dbname=postgres", but "postgresql://" keeps its
// scheme, so the text stays readable and a URL stays a URL. Tools echo a password delimited (quoted, between ':'
// and '@', after '='), never glued to other letters.
func (r *Redactor) Text(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, sec := range r.secrets {
			if strings.Contains(s, sec) {
				s = maskToken(s, sec)
			}
		}
		r.mu.RUnlock()
	}
	return RedactText(s)
}

// maskToken replaces each occurrence of sec in s by Mask, except where a letter or digit at an edge of sec
// continues into a letter or digit of s (the occurrence is part of a longer word).
func maskToken(s, sec string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(s[from:], sec)
		if i < 0 {
			break
		}
		i += from
		j := i + len(sec)
		glued := i > 0 && isAlnum(sec[0]) && isAlnum(s[i-1]) || j < len(s) && isAlnum(sec[len(sec)-1]) && isAlnum(s[j])
		if glued {
			from = i + 1
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(Mask)
		last, from = j, j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// URL returns a connection string without its credentials (RedactURL) and without known secrets. The result is
// one RedactURL leaves as it is, so a record's validation accepts it as a target URL.
func (r *Redactor) URL(s string) string { return RedactURL(r.Text(RedactURL(s))) }

// Strings applies Text to each of ss, returning a new slice.
func (r *Redactor) Strings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = r.Text(s)
	}
	return out
}

// JSON applies Text to every string (values and keys) in a JSON document. It returns b itself when nothing
// changed, and b unchanged when it is not valid JSON (the record's validation reports that).
func (r *Redactor) JSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b
	}
	v, changed := r.walk(v)
	if !changed {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

func (r *Redactor) walk(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		y := r.Text(x)
		return y, y != x
	case []any:
		changed := false
		for i, e := range x {
			var c bool
			x[i], c = r.walk(e)
			changed = changed || c
		}
		return x, changed
	case map[string]any:
		changed := false
		for k, e := range x {
			ne, c := r.walk(e)
			nk := r.Text(k)
			if nk != k {
				delete(x, k)
				c = true
			}
			x[nk] = ne
			changed = changed || c
		}
		return x, changed
	}
	return v, false
}

// Record returns rec with every free-text field cleaned: the run's name, tags, parameters and target (URL, host,
// database), the error text and the summary's extra object. Figures are left alone. rec's own payloads are not modified.
func (r *Redactor) Record(rec Record) Record {
	if rec.Started != nil {
		s := r.Started(*rec.Started)
		rec.Started = &s
	}
	if rec.Finished != nil {
		f := *rec.Finished
		f.Error = r.Text(f.Error)
		if f.Summary != nil {
			sum := *f.Summary
			sum.Extra = r.JSON(sum.Extra)
			f.Summary = &sum
		}
		rec.Finished = &f
	}
	if rec.Observation != nil {
		o := r.Observation(*rec.Observation)
		rec.Observation = &o
	}
	return rec
}

// Started returns s with its free-text fields cleaned (see Record).
func (r *Redactor) Started(s Started) Started {
	s.Name = r.Text(s.Name)
	if len(s.Tags) > 0 {
		tags := make(map[string]string, len(s.Tags))
		for k, v := range s.Tags {
			tags[r.Text(k)] = r.Text(v)
		}
		s.Tags = tags
	}
	s.Parameters = r.JSON(s.Parameters)
	// The target's host and database are what a client would connect to, and libpq takes pieces of a password
	// holding '/' or '@' for host, port and database name.
	s.Target.URL = r.URL(s.Target.URL)
	s.Target.Host = r.Text(s.Target.Host)
	s.Target.Database = r.Text(s.Target.Database)
	return s
}

// Writer returns a writer that passes each Write through Text before writing it to w. A secret split across
// two writes is not recognised, so write whole lines (as fmt.Fprintf and the progress display do).
func (r *Redactor) Writer(w io.Writer) io.Writer { return &redactWriter{r: r, w: w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

// Unwrap returns the writer written to, so that a caller can tell whether it is a terminal.
func (rw *redactWriter) Unwrap() io.Writer { return rw.w }

func (rw *redactWriter) Write(p []byte) (int, error) {
	s := rw.r.Text(string(p))
	if s == string(p) {
		return rw.w.Write(p)
	}
	if _, err := io.WriteString(rw.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
