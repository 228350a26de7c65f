package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string
	Line int    // 0 when the problem has no place in the file (a missing key)
	Path string // dotted key path, e.g. "sink.batch_size" or "topics[1].name"
	Msg  string
}

func (p Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in a file; Load returns them all at once.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Section is a top-level key of the file. A program names the sections it reads, so that a ${VAR} or a wrong
// value in another program's section (the sink's ${DATABASE_URL} in a file shared with the producer) is not its
// problem.
type Section string

// The sections of the file.
const (
	SectionKafka      Section = "kafka"
	SectionTopics     Section = "topics"
	SectionSink       Section = "sink"
	SectionProducer   Section = "producer"
	SectionPerftarget Section = "perftarget"
	SectionGraphQL    Section = "graphql"
	SectionFleet      Section = "fleet"
)

// Load reads the YAML file at path over the defaults. The error, if any, is a Problems listing everything wrong.
// uses names the sections the caller reads (none: all of them); see Parse.
func Load(path string, uses ...Section) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv, uses...)
}

// Parse is Load for bytes already read; file names the source in messages and lookup resolves ${VAR}.
//
// Every problem is reported at once, each with its line: YAML syntax errors (alone: nothing else can be read),
// otherwise unknown keys and values of the wrong type anywhere in the file, and, in the sections named in uses (all
// when none is named), unset variables and invalid values. A section not in uses is checked for its shape only; an
// unset ${VAR} in it leaves its key empty.
func Parse(file string, data []byte, lookup func(string) (string, bool), uses ...Section) (*Config, error) {
	cfg := Default()
	cfg.File = file
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{syntaxProblem(file, err)}
	}
	used := func(path string) bool {
		if len(uses) == 0 {
			return true
		}
		top := path
		if i := strings.IndexAny(path, ".["); i >= 0 {
			top = path[:i]
		}
		return slices.Contains(uses, Section(top))
	}
	if len(root.Content) == 0 { // empty file: all defaults
		return &cfg, finish(&cfg, nil, file, used)
	}
	doc := root.Content[0]
	l := &loader{file: file, lookup: lookup, lines: map[string]int{}}
	if doc.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			l.expand(doc.Content[i+1], used(doc.Content[i].Value))
		}
	} else {
		l.expand(doc, true)
	}
	l.checkKeys(doc, reflect.TypeOf(cfg), "")
	// yaml.v3 decoding a node ignores unknown keys (checkKeys reported them) and goes on after a value of the wrong
	// type, so one pass finds every type error; the keys that had one keep their default.
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			seen := map[int]bool{} // "sink: 5" is already "expected a mapping of keys"
			for _, p := range l.problems {
				seen[p.Line] = true
			}
			for _, msg := range te.Errors {
				p := lineProblem(file, msg)
				if p.Line > 0 && seen[p.Line] {
					continue
				}
				p.Path = l.pathAt(p.Line)
				l.problems = append(l.problems, p)
			}
		} else {
			l.problems = append(l.problems, Problem{File: file, Msg: err.Error()})
		}
	}
	return &cfg, finish(&cfg, l, file, used)
}

func finish(cfg *Config, l *loader, file string, used func(path string) bool) error {
	for i := range cfg.Topics {
		topicDefaults(&cfg.Topics[i])
	}
	lines := map[string]int{}
	var problems Problems
	if l != nil {
		lines = l.lines
		problems = l.problems
	}
	// A line that already has a problem (an unset variable, a value of the wrong type) gets no second one from
	// validating the empty or default value left in its place.
	reported := map[int]bool{}
	for _, p := range problems {
		if p.Line > 0 {
			reported[p.Line] = true
		}
	}
	for _, p := range cfg.validate() {
		if !used(p.Path) {
			continue
		}
		p.File = file
		p.Line = lineFor(lines, p.Path)
		if p.Line > 0 && reported[p.Line] {
			continue
		}
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return problems
	}
	return nil
}

// pathAt is the deepest key path on line n, "" when none is.
func (l *loader) pathAt(n int) string {
	best := ""
	for p, line := range l.lines {
		if line == n && (len(p) > len(best) || len(p) == len(best) && p < best) {
			best = p
		}
	}
	return best
}

// lineFor finds the line of path or of its nearest ancestor that appears in the file.
func lineFor(lines map[string]int, path string) int {
	for p := path; p != ""; {
		if n, ok := lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	return lineProblem(file, err.Error())
}

func lineProblem(file, msg string) Problem {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: n, Msg: m[2]}
	}
	return Problem{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

type loader struct {
	file     string
	lookup   func(string) (string, bool)
	lines    map[string]int
	problems Problems
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\$`)

// expand replaces ${VAR} and ${VAR:-default} in every scalar value; $$ is a literal $. An unset variable without
// a default is a problem at its line when report is set (the section is used), so a missing secret is caught before
// anything connects; otherwise the value is left empty (null), whatever its type.
func (l *loader) expand(n *yaml.Node, report bool) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		unset := false
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			if ref == "$$" {
				return "$"
			}
			m := envRef.FindStringSubmatch(ref)
			if v, ok := l.lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			unset = true
			if report {
				l.problems = append(l.problems, Problem{File: l.file, Line: n.Line, Msg: fmt.Sprintf("environment variable %s is not set (write ${%s:-default} for an optional value)", m[1], m[1])})
			}
			return ""
		})
		// A value from the environment is never parsed as YAML syntax; it is only re-typed so that ${PORT} can
		// fill an int field (strings accept any scalar).
		n.Tag = guessTag(n.Value)
		if unset { // reported above, or not this program's: either way no second problem from its type
			n.Value, n.Tag = "", "!!null"
		}
	}
	for _, c := range n.Content {
		l.expand(c, report)
	}
}

// guessTag re-resolves an expanded scalar so that ${PORT} can fill an int field.
func guessTag(v string) string {
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte(v), &probe); err == nil && len(probe.Content) == 1 && probe.Content[0].Kind == yaml.ScalarNode {
		switch probe.Content[0].Tag {
		case "!!int", "!!float", "!!bool":
			return probe.Content[0].Tag
		}
	}
	return "!!str"
}

// checkKeys walks the document against the Go types, records the line of every key path, and reports keys the
// types don't have. yaml.v3 can only reject unknown keys while decoding from a byte stream, which would lose the
// environment expansion done on the node tree; this walk keeps both.
func (l *loader) checkKeys(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, seen := l.lines[path]; !seen {
			l.lines[path] = n.Line
		}
	}
	switch {
	case t.Kind() == reflect.Struct && t.String() != "time.Time":
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				l.problems = append(l.problems, Problem{File: l.file, Line: n.Line, Path: path, Msg: "expected a mapping of keys"})
			}
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				l.problems = append(l.problems, Problem{File: l.file, Line: k.Line, Path: child, Msg: fmt.Sprintf("unknown key (known keys here: %s)", strings.Join(names, ", "))})
				continue
			}
			l.lines[child] = k.Line
			l.checkKeys(v, ft, child)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			l.checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			child := joinPath(path, k.Value)
			l.lines[child] = k.Line
			l.checkKeys(n.Content[i+1], t.Elem(), child)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func defaultSpoolDir() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" { // systemd StateDirectory=
		return filepath.Join(d, "spool")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/benchpipe/spool"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "benchpipe", "spool")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "benchpipe", "spool")
	}
	return filepath.Join(os.TempDir(), "benchpipe-spool")
}

// EnvConfigFile names the variable that points every benchpipe program at its configuration file.
const EnvConfigFile = "BENCHPIPE_CONFIG"

// SystemFile is where packaged installs keep the configuration.
const SystemFile = "/etc/benchpipe/benchpipe.yaml"

// Resolve loads the configuration a program should use: the file named by its --config flag, else
// $BENCHPIPE_CONFIG, else /etc/benchpipe/benchpipe.yaml when it exists, else the built-in defaults. uses names the
// sections the program reads (see Parse).
func Resolve(flagPath string, uses ...Section) (*Config, error) {
	path := flagPath
	if path == "" {
		path = os.Getenv(EnvConfigFile)
	}
	if path == "" {
		if _, err := os.Stat(SystemFile); err == nil {
			path = SystemFile
		}
	}
	if path == "" {
		cfg := Default()
		return &cfg, nil
	}
	return Load(path, uses...)
}
