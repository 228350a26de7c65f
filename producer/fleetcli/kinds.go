package fleetcli

import (
	"encoding/json"
	"io"

	"github.com/benchpipe/benchpipe/producer/jobkind"
)

// parsed is a job's kind flags read by the kind's own parser.
type parsed struct {
	spec  json.RawMessage   // the spec as the job carries it, checked as the API and the agent check it
	name  string            // the kind's --name
	tags  map[string]string // the kind's --tag
	local []string          // flags of one local run that a job cannot take, as given
}

// parse reads a kind's flags and checks the spec they give with the kind's Decode, which the API applies too (it
// refuses a password in the spec, for one).
func parse(k jobkind.Kind, args []string, stdout io.Writer) (parsed, error) {
	spec, inv, err := k.Parse(args, stdout)
	if err != nil {
		return parsed{}, err
	}
	if spec, err = k.Decode(spec); err != nil {
		return parsed{}, err
	}
	return parsed{spec: spec, name: inv.Name, tags: inv.Tags, local: inv.Local}, nil
}
