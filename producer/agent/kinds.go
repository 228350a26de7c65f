package agent

import (
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/schema"
)

// DefaultKinds are the job kinds this build runs: each through its CLI command's own DecodeSpec and Execute.
func DefaultKinds() map[string]Kind {
	return map[string]Kind{
		schema.KindMQTT:    kindOf(mqttload.DecodeSpec, mqttload.Execute),
		schema.KindPgbench: kindOf(pgbench.DecodeSpec, pgbench.Execute),
	}
}
