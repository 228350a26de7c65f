package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/config"
)

func flags() *flag.FlagSet {
	fs := flag.NewFlagSet("producer mqtt", flag.ContinueOnError)
	fs.Duration("duration", 10*time.Second, "measure for `D`")
	fs.Float64("rate", 0, "`MSG/S`; 0 = as fast as possible")
	fs.Int("publishers", 1, "`N` publishing connections")
	fs.Uint("qos", 0, "QoS `0|1|2`")
	fs.Bool("json", false, "print JSON")
	fs.Var(boolish{}, "same-tags", "require equal tags")
	fs.String("topic", "bench/{id}", "topic `pattern`")
	fs.String("name", "", "run `name`")
	fs.Func("tag", "run tag `k=v`", func(s string) error {
		if !strings.Contains(s, "=") {
			return errors.New("not k=v")
		}
		return nil
	})
	return fs
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "5"}, `--duration "5": missing unit (e.g. 5s, 2m)`},
		{[]string{"--duration=5x"}, `--duration "5x": not a duration (e.g. 500ms, 5s, 2m, 1h30m)`},
		{[]string{"--publishers", "two"}, `--publishers "two": not a whole number`},
		{[]string{"--qos", "-1"}, `--qos "-1": must not be negative`},
		{[]string{"--rate", "fast"}, `--rate "fast": not a number`},
		{[]string{"--tag", "x"}, `--tag "x": not k=v`},
		{[]string{"--json=maybe"}, `--json "maybe": not true or false (write --json=false to turn it off)`},
		{[]string{"-c", "8"}, `unknown flag -c`},
		{[]string{"--duraton", "5s"}, `unknown flag --duraton (did you mean --duration?)`},
		{[]string{"--publishers"}, `--publishers needs a value (--publishers N)`},
	} {
		err := Parse(flags(), tc.args)
		var ue *Error
		if !errors.As(err, &ue) || ue.Msg != tc.want {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := Parse(flags(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	err := Parse(flags(), []string{"-c"})
	var ue *Error
	if !errors.As(err, &ue) || !ue.Unknown || ue.Flag != "c" {
		t.Errorf("-c: %#v, want an unknown flag c", err)
	}
}

func TestFail(t *testing.T) {
	var b bytes.Buffer
	if code := Fail(&b, "producer mqtt", Parse(flags(), []string{"--duration", "5"})); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := "producer mqtt: --duration \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer mqtt --help' for usage.\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestPrintDefaults(t *testing.T) {
	var b bytes.Buffer
	PrintDefaults(&b, flags())
	want := `  --duration D
    	measure for D (default 10s)
  --json
    	print JSON
  --name name
    	run name
  --publishers N
    	N publishing connections (default 1)
  --qos 0|1|2
    	QoS 0|1|2 (default 0)
  --rate MSG/S
    	MSG/S; 0 = as fast as possible (default 0)
  --same-tags
    	require equal tags
  --tag k=v
    	run tag k=v
  --topic pattern
    	topic pattern (default "bench/{id}")
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// boolish is a flag.Value that is a boolean flag without being a flag.Getter, like compare's --same-tags.
type boolish struct{}

func (boolish) String() string   { return "false" }
func (boolish) Set(string) error { return nil }
func (boolish) IsBoolFlag() bool { return true }

func TestFailConfig(t *testing.T) {
	_, err := config.Parse("bad.yaml", []byte("graphql:\n  url: nope\n  timeot: 1s\n"), func(string) (string, bool) { return "", false })
	var b bytes.Buffer
	if code := FailConfig(&b, "producer mqtt", err, 2); code != 2 {
		t.Errorf("exit %d", code)
	}
	want := "producer mqtt: 2 problems in the configuration:\nbad.yaml:2: graphql.url: \"nope\" is not an http(s) URL\nbad.yaml:3: graphql.timeot: unknown key (known keys here: url, headers, timeout)\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	_, err = config.Parse("bad.yaml", []byte("graphql:\n  timeot: 1s\n"), func(string) (string, bool) { return "", false })
	FailConfig(&b, "sink", err, 1)
	if want := "sink: configuration: bad.yaml:2: graphql.timeot: unknown key (known keys here: url, headers, timeout)\n"; b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
