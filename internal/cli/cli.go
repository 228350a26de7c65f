// Package cli is how every benchpipe program reports bad usage and prints its flags, so that all of them behave
// alike: a mistake on the command line gives one line saying what is wrong, one line saying where to read more,
// and exit status 2 — never the whole help, in which the cause scrolls away. --help prints every flag with its
// default, including zero defaults that mean something (--rate 0 = as fast as possible).
//
// The standard flag package does the parsing; this package only silences its own printing and rewrites its
// errors, which name neither the value's expected form nor what to do.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExitUsage is the exit status of every benchpipe program for bad flags, arguments or configuration.
const ExitUsage = 2

// Error is a usage error: Msg says what is wrong in one line. Flag is the flag it concerns (without dashes), "" when
// it is about something else; Unknown is set when that flag does not exist.
type Error struct {
	Msg     string
	Flag    string
	Unknown bool
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes a usage error from a format, for checks done after parsing ("--qos must be 0, 1 or 2").
func Errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Parse parses args into fs without letting the flag package print anything. It returns flag.ErrHelp for -h and
// --help, and an *Error with a one-line message for a bad flag.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return explain(fs, err)
}

// Dash writes a flag name the way the help shows it: -c for one letter, --duration for a word.
func Dash(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// explain rewrites the flag package's error messages, which are fixed strings since Go 1.0.
func explain(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		e := &Error{Flag: name, Unknown: true, Msg: "unknown flag " + Dash(name)}
		if near := closest(fs, name); near != "" {
			e.Msg += fmt.Sprintf(" (did you mean %s?)", Dash(near))
		}
		return e
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return &Error{Flag: name, Msg: fmt.Sprintf("%s needs a value%s", Dash(name), example(fs.Lookup(name)))}
	}
	var value, name string
	if _, e := fmt.Sscanf(msg, "invalid value %q for flag -%s", &value, &name); e == nil {
		name = strings.TrimSuffix(name, ":")
		return &Error{Flag: name, Msg: fmt.Sprintf("%s %q: %s", Dash(name), value, why(fs.Lookup(name), value, msg))}
	}
	if _, e := fmt.Sscanf(msg, "invalid boolean value %q for -%s", &value, &name); e == nil {
		name = strings.TrimSuffix(name, ":")
		return &Error{Flag: name, Msg: fmt.Sprintf("%s %q: not true or false (write %s=false to turn it off)", Dash(name), value, Dash(name))}
	}
	if s, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return &Error{Msg: fmt.Sprintf("bad flag syntax %q", s)}
	}
	return &Error{Msg: msg}
}

// why says what is wrong with value for flag f, in terms of what the flag expects.
func why(f *flag.Flag, value, msg string) string {
	if f != nil {
		switch kindOf(f) {
		case "duration":
			if _, err := strconv.ParseFloat(value, 64); err == nil {
				return "missing unit (e.g. 5s, 2m)"
			}
			return "not a duration (e.g. 500ms, 5s, 2m, 1h30m)"
		case "int", "uint":
			if strings.HasSuffix(msg, "value out of range") {
				return "out of range"
			}
			if kindOf(f) == "uint" && strings.HasPrefix(value, "-") {
				return "must not be negative"
			}
			return "not a whole number"
		case "float":
			return "not a number"
		}
	}
	// A flag.Func or a flag.Value's own error: after "for flag -name: ".
	if i := strings.Index(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func kindOf(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "duration"
	case int, int64:
		return "int"
	case uint, uint64:
		return "uint"
	case float64:
		return "float"
	}
	return ""
}

func example(f *flag.Flag) string {
	if f == nil {
		return ""
	}
	if name, _ := flag.UnquoteUsage(f); name != "" {
		return " (" + Dash(f.Name) + " " + name + ")"
	}
	return ""
}

// closest returns the defined flag nearest to name (a typo or a missing letter), "" when none is close.
func closest(fs *flag.FlagSet, name string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if len(name) < 3 || len(f.Name) < 3 {
			return
		}
		if d := distance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Fail prints a usage error as the programs all do — "PROG: cause" and "Run 'PROG --help' for usage." on w — and
// returns ExitUsage. prog is the command as typed, e.g. "producer mqtt".
func Fail(w io.Writer, prog string, err error) int {
	fmt.Fprintf(w, "%s: %v\nRun '%s --help' for usage.\n", prog, err, prog)
	return ExitUsage
}

// PrintDefaults writes fs's flags to w like flag.PrintDefaults, with two dashes for words, and with the default of
// every flag that has one: unlike the flag package it shows zero numbers and durations too, since "0" often means
// something ("as fast as possible", "no limit") and the reader should not have to guess.
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		var b strings.Builder
		b.WriteString("  " + Dash(f.Name))
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			b.WriteString(" " + name)
		}
		if b.Len() <= 4 { // a one-letter boolean fits on the same line
			b.WriteString("\t")
		} else {
			b.WriteString("\n    \t")
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d, ok := shownDefault(f); ok && !strings.Contains(usage, "(default") {
			fmt.Fprintf(&b, " (default %s)", d)
		}
		fmt.Fprintln(w, b.String())
	})
}

// shownDefault is the default worth printing: any non-empty value, and zero for numbers and durations; not false
// for a boolean and not "" for a string (there the usage says what happens without the flag).
func shownDefault(f *flag.Flag) (string, bool) {
	d := f.DefValue
	switch kindOf(f) {
	case "duration", "int", "uint", "float":
		return d, true
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return d, d == "true"
	}
	if d == "" || d == "[]" || d == "map[]" || d == "<nil>" {
		return "", false
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if _, isString := g.Get().(string); isString {
			return strconv.Quote(d), true
		}
	}
	return d, true
}

// TagFlag defines the run commands' repeatable --tag k=v, collecting into tags; help says what the tags add to.
func TagFlag(fs *flag.FlagSet, tags map[string]string, help string) {
	fs.Func("tag", help, func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not k=v", s)
		}
		tags[k] = v
		return nil
	})
}
