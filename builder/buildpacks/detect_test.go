package buildpacks

import (
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// detectAll returns the buildpacks that pass detection on app, in IDs
// order.
func detectAll(t *testing.T, app fstest.MapFS) ([]string, error) {
	t.Helper()
	var pass []string
	for _, id := range IDs() {
		d, err := detect(id, app)
		if err != nil {
			return nil, err
		}
		if d.reason == "" {
			t.Errorf("%s gave no reason", id)
		}
		if d.pass {
			pass = append(pass, id)
		}
	}
	return pass, nil
}

func TestDetectExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		example string
		want    []string
	}{
		{"go", []string{IDGo}},
		{"node", []string{IDNode}},
		{"python", []string{IDPython}},
		{"static", []string{IDStatic}},
		{"procfile", []string{IDGo, IDProcfile}},
		// apprun.yaml's build.dockerfile: the builder uses the Dockerfile.
		{"dockerfile", nil},
	} {
		t.Run(tc.example, func(t *testing.T) {
			var got []string
			for _, id := range IDs() {
				d, err := detect(id, os.DirFS(exampleDir(tc.example)))
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if d.pass {
					got = append(got, id)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("passing = %v, want %v", got, tc.want)
			}
		})
	}
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		app     fstest.MapFS
		want    []string
		wantErr string
	}{
		{name: "empty", app: fstest.MapFS{}},
		{name: "readme only", app: fstest.MapFS{"README.md": file("hi")}},
		{name: "go.mod in a subdirectory", app: fstest.MapFS{"svc/go.mod": file("module x")}},
		{name: "requirements", app: fstest.MapFS{"requirements.txt": file("")}, want: []string{IDPython}},
		{name: "pyproject", app: fstest.MapFS{"pyproject.toml": file("")}, want: []string{IDPython}},
		{name: "main.py", app: fstest.MapFS{"main.py": file("")}, want: []string{IDPython}},
		{name: "wsgi.py", app: fstest.MapFS{"wsgi.py": file("")}, want: []string{IDPython}},
		{name: "index.html in dist", app: fstest.MapFS{"dist/index.html": file("")}, want: []string{IDStatic}},
		{name: "index.html in site", app: fstest.MapFS{"site/index.html": file("")}, want: []string{IDStatic}},
		{name: "index.html in another dir", app: fstest.MapFS{"www/index.html": file("")}},
		{name: "index.html is a directory", app: fstest.MapFS{"index.html/x": file("")}},
		{
			name: "a node app with a built site is node",
			app:  fstest.MapFS{"package.json": file("{}"), "dist/index.html": file("")},
			want: []string{IDNode},
		},
		{
			name: "runtime static serves a site with a package.json",
			app:  fstest.MapFS{"package.json": file("{}"), "index.html": file(""), "apprun.yaml": file("version: 1.0\nruntime: static\n")},
			want: []string{IDStatic},
		},
		{
			name: "runtime picks the language",
			app:  fstest.MapFS{"go.mod": file("module x"), "apprunner.yaml": file("version: 1.0\nruntime: python3\n")},
			want: []string{IDPython},
		},
		{
			name: "runtime nodejs18",
			app:  fstest.MapFS{"apprun.yaml": file("version: 1.0\nruntime: nodejs18\n")},
			want: []string{IDNode},
		},
		{
			name: "an unsupported runtime passes no language",
			app:  fstest.MapFS{"go.mod": file("module x"), "Procfile": file("web: x"), "apprun.yaml": file("version: 1.0\nruntime: ruby31\n")},
			want: []string{IDProcfile},
		},
		{
			name: "apprun.yaml wins over apprunner.yaml",
			app: fstest.MapFS{
				"apprun.yaml":    file("version: 1.0\nruntime: go1\n"),
				"apprunner.yaml": file("version: 1.0\nruntime: python3\n"),
			},
			want: []string{IDGo},
		},
		{name: "Procfile alone", app: fstest.MapFS{"Procfile": file("web: ./run.sh\n")}, want: []string{IDProcfile}},
		{
			name: "static with a Procfile",
			app:  fstest.MapFS{"Procfile": file("worker: ./w\n"), "public/index.html": file("")},
			want: []string{IDStatic, IDProcfile},
		},
		{
			name: "a Dockerfile build passes nothing",
			app:  fstest.MapFS{"go.mod": file("module x"), "Procfile": file("web: x"), "apprun.yaml": file("version: 1.0\nbuild:\n  dockerfile: Dockerfile\n")},
		},
		{name: "a broken apprun.yaml is an error", app: fstest.MapFS{"go.mod": file("module x"), "apprun.yaml": file("version: 2\n")}, wantErr: "apprun.yaml"},
		{name: "a broken Procfile is an error", app: fstest.MapFS{"Procfile": file("not a process line\n")}, wantErr: "Procfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := detectAll(t, tc.app)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("passing = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDetectSaysWhy(t *testing.T) {
	t.Parallel()
	app := fstest.MapFS{"package.json": file("{}"), "index.html": file("")}
	d, err := detect(IDStatic, app)
	if err != nil {
		t.Fatal(err)
	}
	if d.pass || !strings.Contains(d.reason, "package.json") || !strings.Contains(d.reason, "runtime: static") {
		t.Errorf("static on a node app: %+v", d)
	}
}

func TestLookedNamesEveryMarker(t *testing.T) {
	t.Parallel()
	looked := strings.Join(Looked(), "\n")
	for _, ms := range markers {
		for _, m := range ms {
			if !strings.Contains(looked, m) {
				t.Errorf("Looked() does not name %s:\n%s", m, looked)
			}
		}
	}
	for _, r := range staticRoots[1:] {
		if !strings.Contains(looked, r+"/") {
			t.Errorf("Looked() does not name %s/:\n%s", r, looked)
		}
	}
	if len(Looked()) != len(IDs()) {
		t.Errorf("Looked() has %d lines, want one per buildpack", len(Looked()))
	}
	want := "apprun/python: requirements.txt, pyproject.toml, app.py, main.py, wsgi.py or asgi.py"
	if !slices.Contains(Looked(), want) {
		t.Errorf("Looked() = %q, want a line %q", Looked(), want)
	}
}
