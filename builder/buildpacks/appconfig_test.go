package buildpacks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serverPy answers GET with GREETING, APP_PORT and the build steps that
// ran, in order.
const serverPy = `import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        steps = open("steps.txt").read().strip().replace("\n", ",") if os.path.exists("steps.txt") else ""
        body = ("%s %s %s\n" % (os.environ.get("GREETING"), os.environ.get("APP_PORT"), steps)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`

func TestAppConfigCommandsAndPrecedence(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"apprun.yaml": `version: 1.0
runtime: python3
build:
  commands:
    pre-build: echo pre >> steps.txt
    build:
      - echo "build $FLAVOUR" >> steps.txt
      - echo build2 >> steps.txt
    post-build: echo post >> steps.txt
  env:
    - name: FLAVOUR
      value: vanilla
run:
  pre-run: echo pre-run >> steps.txt
  command: python3 server.py
  network:
    port: 9000
    env: APP_PORT
  env:
    - name: GREETING
      value: hi
`,
		// Offline, pip install of flask would fail: build.commands.build
		// replaces it.
		"requirements.txt": "flask==3.0\n",
		"server.py":        serverPy,
		"Procfile":         "web: python3 -m http.server\nworker: python3 worker.py\n",
	})
	if g := f.detect(); !slices.Equal(g, []string{IDPython, IDProcfile}) {
		t.Fatalf("group = %v", g)
	}
	f.mustBuild()
	procs := f.processes()
	if web := procs["web"]; !slices.Equal(web.Command, []string{"python3", "server.py"}) || web.From != IDPython || !web.Default {
		t.Errorf("web = %+v, want run.command from the python buildpack (over the Procfile's web)", web)
	}
	if w := procs["worker"]; !slices.Equal(w.Command, []string{"python3", "worker.py"}) {
		t.Errorf("worker = %+v, want the Procfile's", w)
	}
	for name, want := range map[string]string{"PORT": "9000", "APP_PORT": "9000", "GREETING": "hi", "PYTHONUNBUFFERED": "1"} {
		if got := f.readLayerFile(IDPython, "apprun-env/env.launch/"+name+".default"); got != want {
			t.Errorf("launch default %s = %q, want %q", name, got, want)
		}
	}
	if launch := f.readLayerFile(IDPython, "launch.toml"); !strings.Contains(launch, `value = "9000"`) {
		t.Errorf("launch.toml port label:\n%s", launch)
	}
	if _, err := os.Stat(filepath.Join(f.layersDir(IDProcfile), "apprun-env")); !os.IsNotExist(err) {
		t.Errorf("the procfile buildpack applied apprun.yaml too (err %v)", err)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hi 9000 pre,build vanilla,build2,post,pre-run\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestAppConfigFailingCommand(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"apprun.yaml": `version: 1.0
build:
  commands:
    pre-build: echo first-step
    build:
      - echo oops-output >&2; exit 3
      - echo never-second
    post-build: echo never-post
`,
		"app.py": "",
	})
	err := f.build()
	if err == nil || !strings.Contains(err.Error(), "build.commands.build[0]") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the failing command and its status", err)
	}
	out := f.out.String()
	if !strings.Contains(out, "first-step") || !strings.Contains(out, "oops-output") {
		t.Errorf("the build log lacks the commands' output:\n%s", out)
	}
	if strings.Contains(out, "never-") {
		t.Errorf("commands after the failure ran:\n%s", out)
	}
}

func TestAppConfigWithProcfileAlone(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"apprunner.yaml": `version: 1.0
build:
  commands:
    pre-build: echo alone >> steps.txt
run:
  env:
    - name: GREETING
      value: procfile
`,
		"server.py": serverPy,
		"Procfile":  "web: python3 server.py\n",
	})
	if g := f.detect(); !slices.Equal(g, []string{IDProcfile}) {
		t.Fatalf("group = %v, want the procfile buildpack alone", g)
	}
	f.mustBuild()
	if got := f.readLayerFile(IDProcfile, "apprun-env/env.launch/PORT.default"); got != "8080" {
		t.Errorf("PORT default = %q, want 8080", got)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "procfile None alone\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestAppConfigNoWebProcess(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{"package.json": `{"name": "x"}`})
	err := f.build()
	if err == nil || !strings.Contains(err.Error(), "no web process") || !strings.Contains(err.Error(), "server.js") {
		t.Fatalf("err = %v, want one that says what was looked for", err)
	}
}

func TestAppConfigReplacedGoBuild(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"go.mod":  "module example.com/replaced\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n",
		"apprun.yaml": `version: 1.0
build:
  commands:
    build: go build -o bin/server . && echo "GOPROXY=$GOPROXY CGO_ENABLED=$CGO_ENABLED"
run:
  command: ./bin/server
`,
	})
	f.seedGoCache()
	f.mustBuild()
	if !strings.Contains(f.out.String(), "GOPROXY=off CGO_ENABLED=0") {
		t.Errorf("the build commands did not get the Go settings:\n%s", f.out)
	}
	if _, err := os.Stat(filepath.Join(f.layersDir(IDGo), "go-bin.toml")); !os.IsNotExist(err) {
		t.Errorf("the buildpack's go build ran although build.commands.build replaces it")
	}
	if web := f.processes()["web"]; !slices.Equal(web.Command, []string{"./bin/server"}) {
		t.Errorf("web = %q", web.Command)
	}
	if _, err := os.Stat(filepath.Join(f.app, "bin", "server")); err != nil {
		t.Errorf("the user's build made no binary: %v", err)
	}
}
