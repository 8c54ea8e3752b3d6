package buildpacks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildGoExample(t *testing.T) {
	t.Parallel()
	f := newFakeCNB(t, exampleDir("go"))
	f.seedGoCache()
	if g := f.detect(); !slices.Equal(g, []string{IDGo}) {
		t.Fatalf("group = %v, want [%s]", g, IDGo)
	}
	f.mustBuild()
	if !strings.Contains(f.out.String(), "building the go example with go version") {
		t.Errorf("the pre-build command did not run:\n%s", f.out)
	}
	web := f.processes()["web"]
	if len(web.Command) != 1 || filepath.Base(web.Command[0]) != "hello" || !web.Default {
		t.Errorf("web = %+v, want the default process running the hello binary", web)
	}
	if got := f.readLayerFile(IDGo, "apprun-env/env.launch/PORT.default"); got != "8080" {
		t.Errorf("PORT default = %q, want 8080", got)
	}
	if got := f.readLayerFile(IDGo, "apprun-env/env.launch/GREETING.default"); got != "hello" {
		t.Errorf("GREETING default = %q, want hello (run.env)", got)
	}
	if launch := f.readLayerFile(IDGo, "launch.toml"); !strings.Contains(launch, `key = "io.apprun.port"`) {
		t.Errorf("launch.toml has no port label:\n%s", launch)
	}

	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from go\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if err := app.stop(10e9); err != nil {
		t.Errorf("the app did not stop cleanly on SIGTERM: %v\n%s", err, app.out)
	}

	// A rebuild with no change reuses every layer: the binaries are not
	// built again, and the launch layer is left for the exporter to take
	// from the previous image.
	f.restore()
	f.out = &syncBuffer{}
	f.mustBuild()
	out := f.out.String()
	for _, layer := range []string{"go-cache", "go-bin", "apprun-env"} {
		if !strings.Contains(out, "Reusing layer "+layer) {
			t.Errorf("the rebuild did not reuse %s:\n%s", layer, out)
		}
	}
	if strings.Contains(out, "-----> Building") {
		t.Errorf("the rebuild compiled again:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(f.layersDir(IDGo), "go-bin")); !os.IsNotExist(err) {
		t.Errorf("the reused launch layer has a directory (err %v); the exporter would replace the old layer", err)
	}
	if got := layerTypesOf(f.readLayerFile(IDGo, "go-bin.toml")); got != (layerTypes{Launch: true}) {
		t.Errorf("reused go-bin types = %+v, want launch only", got)
	}

	// A change in the source builds again.
	f.restore()
	if err := os.WriteFile(filepath.Join(f.app, "extra.go"), []byte("package main\n\nconst extra = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.out = &syncBuffer{}
	f.mustBuild()
	if !strings.Contains(f.out.String(), "-----> Building hello") {
		t.Errorf("a changed source was not rebuilt:\n%s", f.out)
	}
}

func TestBuildNodeExample(t *testing.T) {
	t.Parallel()
	f := newFakeCNB(t, exampleDir("node"))
	if g := f.detect(); !slices.Equal(g, []string{IDNode}) {
		t.Fatalf("group = %v, want [%s]", g, IDNode)
	}
	f.mustBuild()
	web := f.processes()["web"]
	if !slices.Equal(web.Command, []string{"node", "server.js"}) {
		t.Errorf("web command = %q, want node server.js exec'd directly", web.Command)
	}
	if got := f.readLayerFile(IDNode, "apprun-env/env.launch/NODE_ENV.default"); got != "production" {
		t.Errorf("NODE_ENV default = %q", got)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from node\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if err := app.stop(10e9); err != nil {
		t.Errorf("the app did not stop cleanly on SIGTERM: %v\n%s", err, app.out)
	}
}

func TestBuildPythonExample(t *testing.T) {
	t.Parallel()
	f := newFakeCNB(t, exampleDir("python"))
	if g := f.detect(); !slices.Equal(g, []string{IDPython}) {
		t.Fatalf("group = %v, want [%s]", g, IDPython)
	}
	f.mustBuild()
	web := f.processes()["web"]
	if !slices.Equal(web.Command, []string{"python3", "app.py"}) {
		t.Errorf("web command = %q, want python3 app.py", web.Command)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from python\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	if err := app.stop(10e9); err != nil {
		t.Errorf("the app did not stop cleanly on SIGTERM: %v\n%s", err, app.out)
	}
}

func TestBuildStaticExample(t *testing.T) {
	t.Parallel()
	f := newFakeCNB(t, exampleDir("static"))
	if g := f.detect(); !slices.Equal(g, []string{IDStatic}) {
		t.Fatalf("group = %v, want [%s]", g, IDStatic)
	}
	f.mustBuild()
	web := f.processes()["web"]
	if len(web.Command) != 3 || filepath.Base(web.Command[0]) != "static-server" || web.Command[2] != "." {
		t.Errorf("web command = %q, want static-server --root .", web.Command)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || !strings.Contains(body, "<h1>hello from static</h1>") {
		t.Errorf("GET / = %d %q", code, body)
	}
	if code, body := app.get(t, "/style.css"); code != 200 || !strings.Contains(body, "font-family") {
		t.Errorf("GET /style.css = %d %q", code, body)
	}
	if code, _ := app.get(t, "/missing"); code != 404 {
		t.Errorf("GET /missing = %d, want 404", code)
	}
	if err := app.stop(10e9); err != nil {
		t.Errorf("the server did not stop cleanly on SIGTERM: %v\n%s", err, app.out)
	}

	f.restore()
	f.out = &syncBuffer{}
	f.mustBuild()
	if !strings.Contains(f.out.String(), "Reusing layer static-server") {
		t.Errorf("the rebuild did not reuse the static-server layer:\n%s", f.out)
	}
}

func TestBuildProcfileExample(t *testing.T) {
	t.Parallel()
	f := newFakeCNB(t, exampleDir("procfile"))
	f.seedGoCache()
	if g := f.detect(); !slices.Equal(g, []string{IDGo, IDProcfile}) {
		t.Fatalf("group = %v, want [%s %s]", g, IDGo, IDProcfile)
	}
	f.mustBuild()
	procs := f.processes()
	if len(procs) != 2 {
		t.Errorf("processes = %v, want web and worker", procs)
	}
	if web := procs["web"]; !slices.Equal(web.Command, []string{"web"}) || web.From != IDProcfile || !web.Default {
		t.Errorf("web = %+v, want the Procfile's default web", web)
	}
	if w := procs["worker"]; !slices.Equal(w.Command, []string{"worker"}) || w.Default {
		t.Errorf("worker = %+v, want the Procfile's worker", w)
	}
	web := f.start("web")
	if code, body := web.get(t, "/"); code != 200 || body != "hello from procfile web\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	worker := f.start("worker", "WORKER_INTERVAL=50ms")
	deadline := 200
	for !strings.Contains(worker.out.String(), "worker: tick 2") && deadline > 0 {
		sleepMillis(50)
		deadline--
	}
	if err := worker.stop(10e9); err != nil {
		t.Errorf("the worker did not stop cleanly: %v", err)
	}
	if out := worker.out.String(); !strings.Contains(out, "worker: tick 2") || !strings.Contains(out, "worker: stopped") {
		t.Errorf("worker output:\n%s", out)
	}
}
