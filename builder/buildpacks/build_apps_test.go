package buildpacks

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildNodeDependenciesOffline(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"package.json": `{"dependencies": {"express": "^4.18.0"}, "scripts": {"start": "node server.js"}}`,
		"server.js":    "",
	})
	err := f.build()
	if err == nil || !strings.Contains(err.Error(), "commit node_modules") || !strings.Contains(err.Error(), NetworkEnv+"=1") {
		t.Fatalf("err = %v, want one that says how to build offline", err)
	}
}

func TestBuildNodeCommittedModules(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"package.json":                    `{"dependencies": {"greet": "1.0.0"}}`,
		"node_modules/greet/package.json": `{"name": "greet", "version": "1.0.0", "main": "index.js"}`,
		"node_modules/greet/index.js":     `module.exports = () => "hello from a committed module\n";`,
		"index.js": `require("node:http").createServer((q, s) => s.end(require("greet")())).listen(process.env.PORT);
process.on("SIGTERM", () => process.exit(0));`,
	})
	f.mustBuild()
	if !strings.Contains(f.out.String(), "Using the committed node_modules") {
		t.Errorf("log:\n%s", f.out)
	}
	if web := f.processes()["web"]; !slices.Equal(web.Command, []string{"node", "index.js"}) {
		t.Errorf("web = %q, want node index.js", web.Command)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from a committed module\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

func TestBuildNodeLockfileWithNetwork(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"package.json":      `{"name": "x", "version": "1.0.0", "scripts": {"start": "node server.js", "build": "echo built > built.txt"}}`,
		"package-lock.json": `{"name": "x", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "x", "version": "1.0.0"}}}`,
		"server.js":         "",
	})
	f.setPlatformEnv(NetworkEnv, "1")
	f.mustBuild()
	if !strings.Contains(f.out.String(), "-----> npm ci") {
		t.Errorf("npm ci did not run:\n%s", f.out)
	}
	target, err := os.Readlink(filepath.Join(f.app, "node_modules"))
	if err != nil || target != filepath.Join(f.layersDir(IDNode), "node-modules", "node_modules") {
		t.Errorf("node_modules links to %q (%v), want the layer", target, err)
	}
	if data, err := os.ReadFile(filepath.Join(f.app, "built.txt")); err != nil || string(data) != "built\n" {
		t.Errorf("npm run build did not run: %q %v", data, err)
	}
	f.restore()
	f.out = &syncBuffer{}
	f.mustBuild()
	if out := f.out.String(); !strings.Contains(out, "Reusing layer node-modules") || strings.Contains(out, "-----> npm ci") {
		t.Errorf("the rebuild did not reuse node-modules:\n%s", out)
	}
	if _, err := os.Readlink(filepath.Join(f.app, "node_modules")); err != nil {
		t.Errorf("the rebuild did not link node_modules: %v", err)
	}
}

func TestBuildPythonWSGI(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"requirements.txt": "# nothing\n",
		"wsgi.py": `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from wsgi " + environ["PATH_INFO"].encode() + b"\n"]
`,
	})
	f.mustBuild()
	web := f.processes()["web"]
	if len(web.Command) != 3 || web.Command[0] != "python3" || filepath.Base(web.Command[1]) != "wsgi_serve.py" || web.Command[2] != "wsgi:application" {
		t.Fatalf("web = %q, want the standard-library WSGI server on wsgi:application", web.Command)
	}
	app := f.start("web")
	if code, body := app.get(t, "/x"); code != 200 || body != "hello from wsgi /x\n" {
		t.Errorf("GET /x = %d %q", code, body)
	}
	if err := app.stop(10e9); err != nil {
		t.Errorf("the WSGI server did not stop cleanly on SIGTERM: %v\n%s", err, app.out)
	}
}

func TestBuildPythonServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reqs, file, src, want, wantLooked string
	}{
		{reqs: "gunicorn==22.0\nflask\n", file: "app.py", src: "app = Flask(__name__)\n", want: "python3 -m gunicorn --bind \"0.0.0.0:${PORT:-8080}\" app:app"},
		{reqs: "fastapi\nuvicorn[standard]\n", file: "main.py", src: "app = FastAPI()\n", want: "python3 -m uvicorn main:app"},
		{reqs: "hypercorn\n", file: "asgi.py", src: "application = make()\n", want: "python3 -m hypercorn asgi:application"},
		{reqs: "fastapi\n", file: "main.py", src: "app = FastAPI()\n", wantLooked: "no uvicorn or hypercorn"},
	} {
		// Only the choice of process runs here: the requirements name
		// the server, and nothing is installed.
		p := &pythonLang{reqs: parseRequirements(tc.reqs)}
		b := &build{app: fakeFS(map[string]string{tc.file: tc.src}), env: Env{Stdout: &syncBuffer{}}}
		procs, looked, err := p.processes(t.Context(), b)
		if tc.wantLooked != "" {
			if err != nil || len(procs) != 0 || !strings.Contains(looked, tc.wantLooked) {
				t.Errorf("%s: processes = %v, %q, %v; want none, saying %q", tc.reqs, procs, looked, err, tc.wantLooked)
			}
			continue
		}
		if err != nil || len(procs) != 1 || !strings.Contains(strings.Join(procs[0].Command, " "), tc.want) || procs[0].Command[0] != "sh" {
			t.Errorf("%s: processes = %+v, %v; want sh -c ... %s", tc.reqs, procs, err, tc.want)
		}
	}
}

// wheel returns a minimal pure-Python wheel of the package hellolib.
func wheel(t *testing.T, dir string) {
	t.Helper()
	files := []struct{ name, body string }{
		{"hellolib/__init__.py", "GREETING = 'hello from a wheel'\n"},
		{"hellolib-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: hellolib\nVersion: 1.0\n"},
		{"hellolib-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: apprun-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	out, err := os.Create(filepath.Join(dir, "hellolib-1.0-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString("hellolib-1.0.dist-info/RECORD,,\n")
	w, err := zw.Create("hellolib-1.0.dist-info/RECORD")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBuildPythonWheelhouseOffline(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"requirements.txt": "hellolib==1.0\n",
		"app.py": `import hellolib
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [hellolib.GREETING.encode() + b"\n"]
`,
	})
	if err := os.MkdirAll(filepath.Join(f.app, wheelhouse), 0o755); err != nil {
		t.Fatal(err)
	}
	wheel(t, filepath.Join(f.app, wheelhouse))
	// The fake lifecycle's restore copies the source again: keep the
	// wheel in it.
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(f.app)); err != nil {
		t.Fatal(err)
	}
	f.src = src
	f.mustBuild()
	if _, err := os.Stat(filepath.Join(f.layersDir(IDPython), "python-packages", "site-packages", "hellolib", "__init__.py")); err != nil {
		t.Fatalf("hellolib is not in the packages layer: %v\n%s", err, f.out)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from a wheel\n" {
		t.Errorf("GET / = %d %q", code, body)
	}
	f.restore()
	f.out = &syncBuffer{}
	f.mustBuild()
	if out := f.out.String(); !strings.Contains(out, "Reusing layer python-packages") || strings.Contains(out, "pip install") {
		t.Errorf("the rebuild did not reuse the packages:\n%s", out)
	}
}

func TestBuildPythonRequirementsOffline(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{"requirements.txt": "flask==3.0\n", "app.py": ""})
	err := f.build()
	if err == nil || !strings.Contains(err.Error(), "wheelhouse/") || !strings.Contains(err.Error(), NetworkEnv) {
		t.Fatalf("err = %v, want one that says how to build offline", err)
	}
}

func TestBuildPythonVendorOffline(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, map[string]string{
		"requirements.txt":            "greetlib==1.0\n",
		"vendor/greetlib/__init__.py": "GREETING = 'hello from vendor'\n",
		"main.py": `import greetlib, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(greetlib.GREETING.encode())
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`,
	})
	f.mustBuild()
	if !strings.Contains(f.out.String(), "Using the packages committed in vendor/") {
		t.Errorf("log:\n%s", f.out)
	}
	app := f.start("web")
	if code, body := app.get(t, "/"); code != 200 || body != "hello from vendor" {
		t.Errorf("GET / = %d %q", code, body)
	}
}
