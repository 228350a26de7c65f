// Command probe is the health check of benchpipe's container images. The images are distroless (no shell, no
// curl, no wget), so a compose or Docker healthcheck cannot run anything but a binary copied into them; probe is
// that binary: it GETs one URL and exits 0 when the answer is 2xx, 1 otherwise, printing why.
//
//	probe [-timeout 3s] http://127.0.0.1:8080/readyz
//
// Kubernetes does not need it (its httpGet probes run outside the container).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: probe [-timeout 3s] URL") }
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := check(ctx, fs.Arg(0)); err != nil {
		fmt.Fprintf(stderr, "probe: %v\n", err)
		return 1
	}
	return 0
}

// check GETs url and returns nil for a 2xx answer.
func check(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read a little of the body: a not-ready service says why there, and that is what an operator wants to see
	// in `docker inspect`.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
