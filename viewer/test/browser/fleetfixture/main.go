// Command fleetfixture is the viewer's fleet browser test's fixture (viewer/test/browser/fleet.mjs starts it): the
// whole operator path of issue 14 on this machine, with real parts only — a throw-away PostgreSQL set up as the
// compose stack sets one up, kfake, the real sink (ingest, fleet topics included), the real `sink api` (the auth
// webhook and the action handler), three real agents (producer agent, in process, each with its spool and state
// directory) and internal/hasurastub, the one stand-in for Hasura, in webhook mode and with the repository's actions.
// It serves the built viewer beside the stand-in. Agents: pi-a (site=lab, rack=1), pi-b (site=lab, rack=2), pi-c
// (site=edge), heartbeats every second (offline after three missed). POST /_fixture/stop-agent?name=N stops an
// agent's process (its last heartbeat stays; it goes offline). One JSON line on stdout says where it listens, the
// operator token (made up for this run) and the agents; it runs until standard input closes.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/sink/api"
	"github.com/benchpipe/benchpipe/sink/ingest"
	"github.com/benchpipe/benchpipe/sink/topics"
)

// agents are the fixture's agents and their tags (producer.tags, which heartbeats carry).
var agents = []struct {
	name string
	tags map[string]string
}{
	{"pi-a", map[string]string{"site": "lab", "rack": "1"}},
	{"pi-b", map[string]string{"site": "lab", "rack": "2"}},
	{"pi-c", map[string]string{"site": "edge"}},
}

func main() {
	if err := run(context.Background(), os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleetfixture:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the test runner holds standard input open while it needs the fixture
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	work, err := os.MkdirTemp("", "benchpipe-fleetfixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	pg, err := testenv.StartPostgres()
	if err != nil {
		return err
	}
	defer pg.Remove()
	d, err := testenv.DeployDatabase(pg.URL("postgres"), "benchpipe")
	if err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return err
	}
	defer cluster.Close()

	cfg := config.Default()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	for i := range cfg.Topics {
		cfg.Topics[i].Partitions = 1
	}
	cfg.Sink.DatabaseURL = d.OwnerURL
	cfg.Sink.HTTPAddr = "127.0.0.1:0"
	cfg.Fleet.Heartbeat = time.Second
	if err := ingest.Migrate(ctx, &cfg, log); err != nil {
		return err
	}
	if _, err := topics.ApplyConfig(ctx, &cfg, false); err != nil {
		return err
	}
	sink, err := ingest.New(ctx, &cfg, ingest.WithLogger(log))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sinkCtx, stopSink := context.WithCancel(context.Background())
	defer stopSink()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = sink.Run(sinkCtx)
		sink.Close()
	}()

	// `sink api`: the operator token and the action secret are made up here, as an operator would set them.
	token, secret := randomHex(), randomHex()
	apiSrv, err := api.New(ctx, &cfg, api.WithOperatorToken(token), api.WithActionSecret(secret), api.WithLogger(log))
	if err != nil {
		return err
	}
	defer apiSrv.Close()
	apiURL, closeAPI, err := serve(apiSrv.Handler())
	if err != nil {
		return err
	}
	defer closeAPI()

	// The agents, each as `producer agent --config <its file> --name <name>` in process.
	stops := map[string]context.CancelFunc{}
	var mu sync.Mutex
	for _, a := range agents {
		c := cfg
		c.Producer.SpoolDir = filepath.Join(work, a.name)
		c.Producer.Device = a.name
		c.Producer.Tags = a.tags
		file := filepath.Join(work, a.name+".yaml")
		raw, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			return err
		}
		actx, stop := context.WithCancel(ctx)
		stops[a.name] = stop
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if code := agent.Run(actx, []string{"--config", file, "--name", name}, io.Discard, stderr); code != 0 && actx.Err() == nil {
				fmt.Fprintf(stderr, "fleetfixture: agent %s exited with status %d\n", name, code)
			}
		}(a.name)
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()

	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	md, err := hasurastub.LoadMetadata(filepath.Join(root, "deploy", "hasura", "metadata"))
	if err != nil {
		return err
	}
	stub, err := hasurastub.Open(ctx, d.HasuraURL, md, hasurastub.WithAuthHook(apiURL+"/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": apiURL, "BENCHPIPE_ACTION_SECRET": secret}),
		hasurastub.WithKeepAlive(time.Second))
	if err != nil {
		return fmt.Errorf("GraphQL stand-in: %w", err)
	}
	defer stub.Close()
	mux := http.NewServeMux()
	mux.Handle(hasurastub.Path, stub)
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(root, "viewer", "dist"))))
	mux.HandleFunc("POST /_fixture/stop-agent", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stop, ok := stops[r.URL.Query().Get("name")]
		mu.Unlock()
		if !ok {
			http.Error(w, "no such agent", http.StatusNotFound)
			return
		}
		stop()
		w.WriteHeader(http.StatusNoContent)
	})
	url, closeViewer, err := serve(mux)
	if err != nil {
		return err
	}
	defer closeViewer()

	names := make([]string, len(agents))
	for i, a := range agents {
		names[i] = a.name
	}
	ready, _ := json.Marshal(map[string]any{"url": url + "/", "token": token, "agents": names})
	fmt.Fprintf(stdout, "%s\n", ready)
	<-ctx.Done()
	return nil
}

// serve serves h on a free local port; returns its base URL (no trailing slash) and the close.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
