package main

// The viewer's fleet browser-test fixture (go run ./internal/demo --fleet-fixture, started by
// viewer/test/browser/fleet.mjs): the demo's pipeline and fleet over a throw-away PostgreSQL set up as the compose
// stack sets one up — kfake, the real sink (fleet topics included), the real `sink api` (auth webhook and actions),
// three real agents (producer agent, in process, each with its spool and job memory) and internal/hasurastub, the
// one stand-in for Hasura, in webhook mode with the repository's actions — serving the built viewer beside the
// stand-in. No run and no job is made: the test launches its own. Agents: pi-a (site=lab, rack=1), pi-b (site=lab,
// rack=2), pi-c (site=edge), heartbeats every second (offline after three missed). POST /_fixture/stop-agent?name=N
// stops an agent (its last heartbeat stays; it goes offline). One JSON line on stdout says where it listens, the
// operator token (made up for this run) and the agents; it runs until standard input closes.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// fixtureAgents are the fleet fixture's agents.
var fixtureAgents = []fleetAgent{
	{"pi-a", map[string]string{"site": "lab", "rack": "1"}},
	{"pi-b", map[string]string{"site": "lab", "rack": "2"}},
	{"pi-c", map[string]string{"site": "edge"}},
}

func runFleetFixture(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, p, done, err := fixturePipeline(ctx, cancel, stdin, stderr)
	if err != nil {
		return err
	}
	defer done()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	url := "http://" + ln.Addr().String()
	f, err := p.startFleet(ctx, fixtureAgents, stderr, url+hasurastub.Path, d.GrafanaURL)
	if err != nil {
		return err
	}
	stopAgent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.stopAgent(r.URL.Query().Get("name")) {
			http.Error(w, "no such agent", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	v, err := newViewerServer(ctx, "viewer/dist", d.HasuraURL, map[string]http.Handler{"POST /_fixture/stop-agent": stopAgent},
		append(f.stubOptions(), hasurastub.WithKeepAlive(time.Second))...)
	if err != nil {
		return err
	}
	defer v.Close()
	go func() { _ = v.http.Serve(ln) }()
	ready, _ := json.Marshal(map[string]any{"url": url + "/", "token": f.token, "agents": f.names})
	fmt.Fprintf(stdout, "%s\n", ready)
	<-ctx.Done()
	return nil
}
