package deploy_test

// The Dockerfiles cannot be built here (no engine, no buildx), so their build rules are checked on the text: the
// Go images cross-compile static binaries for TARGETOS/TARGETARCH on the build platform and run as a numeric
// non-root user on a minimal base; every COPY source exists and is not excluded by .dockerignore; the binaries
// the compose healthchecks call are in the images. The parser below handles what these files use (comments,
// line continuations, exec and shell forms); it is not a full Dockerfile parser, which would mean importing
// BuildKit for four files.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type dockerInstr struct {
	cmd  string // upper case: FROM, RUN, COPY, …
	args string
	line int
}

type dockerStage struct {
	name   string
	from   string // image or previous stage
	instrs []dockerInstr
}

func parseDockerfile(t *testing.T, rel string) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", rel, in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for i, line := range strings.Split(readFile(t, rel), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, cont := strings.CutSuffix(trimmed, "\\"); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", rel)
	}
	return stages
}

func (s dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// copySources returns the build-context paths a COPY without --from reads.
func copySources(in dockerInstr) []string {
	if strings.Contains(in.args, "--from=") {
		return nil
	}
	f := slices.DeleteFunc(strings.Fields(in.args), func(s string) bool { return strings.HasPrefix(s, "--") })
	return f[:len(f)-1]
}

// copyTargets returns destination paths of COPY instructions in a stage.
func copyTargets(s dockerStage) []string {
	var out []string
	for _, in := range s.all("COPY") {
		f := strings.Fields(in.args)
		out = append(out, f[len(f)-1])
	}
	return out
}

var numericUser = regexp.MustCompile(`^([1-9][0-9]*)(:[0-9]+)?$`)

func TestGoDockerfiles(t *testing.T) {
	for _, prog := range []string{"sink", "perftarget", "producer"} {
		rel := "deploy/docker/" + prog + ".Dockerfile"
		stages := parseDockerfile(t, rel)
		build := stages[0]
		if build.name != "build" || !strings.HasPrefix(build.from, "golang:") || !strings.Contains(build.instrs[0].args, "--platform=$BUILDPLATFORM") {
			t.Errorf("%s: first stage must be `FROM --platform=$BUILDPLATFORM golang:… AS build` (cross-compiling, no emulation)", rel)
		}
		args := map[string]bool{}
		for _, a := range build.all("ARG") {
			name, _, _ := strings.Cut(a.args, "=")
			args[name] = true
		}
		if !args["TARGETOS"] || !args["TARGETARCH"] {
			t.Errorf("%s: build stage must declare ARG TARGETOS and TARGETARCH", rel)
		}
		built := false
		for _, run := range build.all("RUN") {
			for _, cmd := range strings.Split(run.args, "&&") {
				if !strings.Contains(cmd, "go build") {
					continue
				}
				for _, want := range []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "-trimpath", `-ldflags "-s -w"`} {
					if !strings.Contains(cmd, want) {
						t.Errorf("%s:%d: go build without %s", rel, run.line, want)
					}
				}
				f := strings.Fields(cmd)
				pkg := f[len(f)-1]
				if _, err := os.Stat(path(t, pkg)); err != nil {
					t.Errorf("%s:%d: builds %s: %v", rel, run.line, pkg, err)
				}
				if pkg == "./"+prog {
					built = true
				}
			}
		}
		if !built {
			t.Errorf("%s: does not build ./%s", rel, prog)
		}
		final := stages[len(stages)-1]
		if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
			t.Errorf("%s: final stage %s; want distroless static or scratch", rel, final.from)
		}
		checkFinalStage(t, rel, stages)
		var entry []string
		if e := final.all("ENTRYPOINT"); len(e) != 1 || json.Unmarshal([]byte(e[0].args), &entry) != nil || entry[0] != "/usr/local/bin/"+prog {
			t.Errorf("%s: ENTRYPOINT must be the exec form [\"/usr/local/bin/%s\"]", rel, prog)
		}
	}
}

// checkFinalStage: numeric non-root USER in every runnable stage, and every COPY --from names a stage.
func checkFinalStage(t *testing.T, rel string, stages []dockerStage) {
	t.Helper()
	names := map[string]bool{}
	for i, st := range stages {
		for _, in := range st.all("COPY") {
			if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil && !names[m[1]] {
				t.Errorf("%s:%d: COPY --from=%s names no earlier stage", rel, in.line, m[1])
			}
			for _, src := range copySources(in) {
				if _, err := os.Stat(path(t, src)); err != nil && !strings.HasPrefix(src, "viewer/") && src != "." {
					t.Errorf("%s:%d: COPY source %s: %v", rel, in.line, src, err)
				}
			}
		}
		names[st.name] = st.name != ""
		if i == 0 && st.name == "build" {
			continue
		}
		users := st.all("USER")
		if len(users) == 0 || !numericUser.MatchString(users[len(users)-1].args) {
			t.Errorf("%s: stage %q (FROM %s) must end with a numeric non-root USER", rel, st.name, st.from)
		}
	}
}

func TestViewerDockerfile(t *testing.T) {
	rel := "deploy/docker/viewer.Dockerfile"
	stages := parseDockerfile(t, rel)
	if !strings.HasPrefix(stages[0].from, "node:") || !strings.Contains(stages[0].instrs[0].args, "--platform=$BUILDPLATFORM") {
		t.Errorf("%s: first stage must build with node on the build platform", rel)
	}
	var runs []string
	for _, r := range stages[0].all("RUN") {
		runs = append(runs, r.args)
	}
	if all := strings.Join(runs, "\n"); !strings.Contains(all, "npm ci") || !strings.Contains(all, "npm run build") {
		t.Errorf("%s: the build stage must run npm ci and npm run build", rel)
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "nginxinc/nginx-unprivileged:") {
		t.Errorf("%s: final stage %s, want nginxinc/nginx-unprivileged", rel, final.from)
	}
	if !slices.Contains(copyTargets(final), "/etc/nginx/conf.d/default.conf") {
		t.Errorf("%s: deploy/nginx/default.conf is not installed as the site", rel)
	}
	checkFinalStage(t, rel, stages)
}

// The compose healthchecks of benchpipe's images call binaries those images contain.
func TestHealthcheckBinariesInImages(t *testing.T) {
	p := mustLoadCompose(t)
	for name, s := range p.Services {
		if s.Build == nil || s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
			continue
		}
		rel, err := filepath.Rel(root(t), filepath.Join(s.Build.Context, s.Build.Dockerfile))
		if err != nil {
			t.Fatal(err)
		}
		stages := parseDockerfile(t, rel)
		final := stages[len(stages)-1]
		bin := s.HealthCheck.Test[1]
		if strings.HasPrefix(bin, "/") {
			if !slices.Contains(copyTargets(final), bin) {
				t.Errorf("%s: healthcheck runs %s, which %s does not copy into the image", name, bin, rel)
			}
		} else if strings.Contains(final.from, "distroless") {
			t.Errorf("%s: healthcheck runs %s from PATH on a distroless image", name, bin)
		}
	}
}

// dockerIgnored reports whether .dockerignore excludes a path, with the rules these patterns need: last match
// wins, "!" re-includes, a pattern excludes the directories it names with everything below, "**/" matches at any
// depth.
func dockerIgnored(patterns []string, p string) bool {
	ignored := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimSuffix(strings.TrimPrefix(pat, "!"), "/")
		match := false
		candidates := []string{p}
		for dir := filepath.Dir(p); dir != "."; dir = filepath.Dir(dir) {
			candidates = append(candidates, dir)
		}
		for _, c := range candidates {
			if anyDepth, ok := strings.CutPrefix(pat, "**/"); ok {
				parts := strings.Split(c, "/")
				for i := range parts {
					if m, _ := filepath.Match(anyDepth, strings.Join(parts[i:], "/")); m {
						match = true
					}
				}
			} else if m, _ := filepath.Match(pat, c); m {
				match = true
			}
		}
		if match {
			ignored = !neg
		}
	}
	return ignored
}

func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".env", ".env.production", ".git/config", "viewer/node_modules/x/index.js", "bin/producer", "deploy/k8s/base/kustomization.yaml"} {
		if !dockerIgnored(patterns, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	// What the images are built from: the module, the embedded migrations, the programs, the probe, the site.
	needed := []string{"go.mod", "go.sum", "schema/migrations/0001_core.sql", "sink/main.go", "deploy/probe/main.go",
		"deploy/nginx/default.conf", "viewer/package.json", "viewer/src/main.ts", "config/config.go", "internal/testenv/postgres.go"}
	for _, rel := range []string{"deploy/docker/sink.Dockerfile", "deploy/docker/perftarget.Dockerfile", "deploy/docker/producer.Dockerfile", "deploy/docker/viewer.Dockerfile"} {
		for _, st := range parseDockerfile(t, rel) {
			for _, in := range st.all("COPY") {
				for _, src := range copySources(in) {
					if src != "." && !strings.HasSuffix(src, "/") {
						needed = append(needed, src)
					}
				}
			}
		}
	}
	for _, p := range needed {
		if dockerIgnored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which an image build needs", p)
		}
	}
	if !dockerIgnored([]string{"**/*.test"}, "a/b/c.test") || dockerIgnored([]string{".env*", "!.env.example"}, ".env.example") {
		t.Fatal("dockerIgnored is broken")
	}
}
