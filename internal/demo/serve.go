package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
)

// viewerServer serves the built viewer and, on /v1/graphql, the GraphQL stand-in for Hasura over the demo's
// database, as nginx and Hasura serve them in the compose stack (the viewer's config.json says /v1/graphql).
type viewerServer struct {
	http      *http.Server
	stub      *hasurastub.Server
	hasViewer bool
}

// newViewerServer opens the stand-in over readURL with the repository's Hasura metadata; extra handlers are
// mounted beside it (the browser-test fixture's). Serve v.http on a listener; Close when done.
func newViewerServer(ctx context.Context, distDir, readURL string, extra map[string]http.Handler, opts ...hasurastub.Option) (*viewerServer, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	md, err := metadata()
	if err != nil {
		return nil, err
	}
	stub, err := hasurastub.Open(ctx, readURL, md, opts...)
	if err != nil {
		return nil, fmt.Errorf("GraphQL stand-in: %w", err)
	}
	if !filepath.IsAbs(distDir) {
		distDir = filepath.Join(root, distDir)
	}
	v := &viewerServer{stub: stub}
	mux := http.NewServeMux()
	mux.Handle(hasurastub.Path, stub)
	mux.Handle("/healthz", stub)
	for p, h := range extra {
		mux.Handle(p, h)
	}
	if _, err := os.Stat(filepath.Join(distDir, "index.html")); err == nil {
		v.hasViewer = true
		mux.Handle("/", http.FileServer(http.Dir(distDir)))
	}
	v.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return v, nil
}

// metadata loads the repository's Hasura metadata (deploy/hasura/metadata).
func metadata() (*hasurastub.Metadata, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	return hasurastub.LoadMetadata(filepath.Join(root, "deploy", "hasura", "metadata"))
}

// Close stops serving, ends open websockets and closes the stand-in's connections.
func (v *viewerServer) Close() {
	v.stub.Close()
	_ = v.http.Close()
}
