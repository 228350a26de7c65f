package fleetcli

import (
	"encoding/json"
	"io"
	"reflect"

	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
)

// parsed is a job's kind flags read by the kind's own parser.
type parsed struct {
	spec  json.RawMessage   // the Spec as the job carries it, checked by the kind's DecodeSpec
	name  string            // the kind's --name
	tags  map[string]string // the kind's --tag
	local []string          // flags of one local run that a job cannot take, as given
}

// kinds are the job kinds, by the word that names them on the command line and in launchJobs' kind.
var kinds = map[string]func(args []string, stdout io.Writer) (parsed, error){
	"mqtt": func(args []string, stdout io.Writer) (parsed, error) {
		s, o, err := mqttload.ParseSpec(args, stdout)
		if err != nil {
			return parsed{}, err
		}
		return finish(s.JSON(), mqttload.DecodeSpec, o.Name, o.Tags, map[string]any{"config": o.ConfigPath, "spool-dir": o.SpoolDir,
			"summary-json": o.SummaryJSON, "compare-with": o.CompareWith, "max-regression": o.MaxRegression})
	},
	"pgbench": func(args []string, stdout io.Writer) (parsed, error) {
		s, o, err := pgbench.ParseSpec(args, stdout)
		if err != nil {
			return parsed{}, err
		}
		return finish(s.JSON(), pgbench.DecodeSpec, o.Name, o.Tags, map[string]any{"config": o.ConfigPath, "spool-dir": o.SpoolDir,
			"pgbench": o.PgbenchPath, "summary-json": o.SummaryJSON, "compare-with": o.CompareWith, "max-regression": o.MaxRegression})
	},
}

// finish checks the encoded spec with decode, the kind's DecodeSpec, which the API applies too (it refuses a
// password in the spec, for one); local are the CLI-only options, by flag name.
func finish[S any](b json.RawMessage, decode func([]byte) (S, error), name string, tags map[string]string, local map[string]any) (parsed, error) {
	if _, err := decode(b); err != nil {
		return parsed{}, err
	}
	p := parsed{spec: b, name: name, tags: tags}
	for _, flag := range []string{"config", "spool-dir", "pgbench", "summary-json", "compare-with", "max-regression"} {
		if v, ok := local[flag]; ok && !reflect.ValueOf(v).IsZero() {
			p.local = append(p.local, flag)
		}
	}
	return p, nil
}
