package buildpacks

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePackageJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		main    string
		start   string
		deps    int
		wantErr bool
	}{
		{name: "example", in: `{"main":"server.js","scripts":{"start":"node server.js"}}`, main: "server.js", start: "node server.js"},
		{name: "dependencies", in: `{"dependencies":{"express":"^4.18.0","left-pad":"1.3.0"}}`, deps: 2},
		{name: "wrong types are ignored", in: `{"main":5,"scripts":{"start":7,"build":"x"},"dependencies":[]}`},
		{name: "scripts not an object", in: `{"scripts":"node x"}`},
		{name: "empty object", in: `{}`},
		{name: "not an object", in: `[]`, wantErr: true},
		{name: "not JSON", in: `{"main":`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkg, err := parsePackageJSON([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %t", err, tc.wantErr)
			}
			if pkg.Main != tc.main || pkg.Scripts["start"] != tc.start || len(pkg.Dependencies) != tc.deps {
				t.Errorf("parsed %+v", pkg)
			}
		})
	}
	if _, err := parsePackageJSON([]byte(`"` + strings.Repeat("x", MaxPackageJSON) + `"`)); err == nil {
		t.Error("an oversized package.json was accepted")
	}
}

// FuzzParsePackageJSON: package.json comes from the pushed source. Parsing
// must never panic, and a script it returns is a string the JSON held.
func FuzzParsePackageJSON(f *testing.F) {
	for _, s := range []string{
		`{"main":"server.js","scripts":{"start":"node server.js"}}`,
		`{"dependencies":{"a":"1"},"devDependencies":{"b":{"x":1}}}`,
		`{"scripts":{"start":null}}`,
		`[1,2]`, `null`, `{"main":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkg, err := parsePackageJSON(data)
		if err != nil {
			return
		}
		for k, v := range pkg.Scripts {
			if k == "start" {
				_ = commandArgv(v)
			}
		}
	})
}

func TestParseRequirements(t *testing.T) {
	t.Parallel()
	in := "# a comment\n\nFlask==3.0.0  # web\ngunicorn>=21\r\nuvicorn[standard] ; python_version > '3.8'\n" +
		"-r base.txt\nrequests \\\n  ==2.31\nhttps://example.com/pkg.whl#egg=pkg\nzope.interface\nmy_pkg\n   # indented comment\n"
	got := parseRequirements(in)
	want := []string{"Flask==3.0.0", "gunicorn>=21", "uvicorn[standard] ; python_version > '3.8'", "-r base.txt", "requests   ==2.31", "https://example.com/pkg.whl#egg=pkg", "zope.interface", "my_pkg"}
	if !slices.Equal(got, want) {
		t.Errorf("entries = %q\nwant %q", got, want)
	}
	names := requirementNames(got)
	wantNames := []string{"flask", "gunicorn", "uvicorn", "requests", "zope-interface", "my-pkg"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("names = %q, want %q", names, wantNames)
	}
	if got := parseRequirements("# only a comment\n\n"); len(got) != 0 {
		t.Errorf("comment-only file has entries %q", got)
	}
}

func TestPyprojectDependencies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"multi-line", "[project]\nname = \"x\"\ndependencies = [\n  \"flask>=3\",  # web\n  'gunicorn',\n]\n[tool.x]\ndependencies = [\"no\"]\n", []string{"flask>=3", "gunicorn"}},
		{"one line", "[project]\ndependencies = [\"a\", \"b\\\"c\"]\n", []string{"a", `b"c`}},
		{"empty", "[project]\ndependencies = []\n", nil},
		{"none", "[project]\nname = \"x\"\n", nil},
		{"other table", "[tool.poetry]\ndependencies = [\"x\"]\n", nil},
		{"unterminated", "[project]\ndependencies = [\"a\", \"b\n", []string{"a"}},
		{"not an array", "[project]\ndependencies = \"a\"\n", nil},
	} {
		if got := pyprojectDependencies(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzPythonRequirements: requirements.txt and pyproject.toml come from
// the pushed source; their readers must never panic or loop.
func FuzzPythonRequirements(f *testing.F) {
	f.Add("flask\n# c\n-r x.txt\n")
	f.Add("[project]\ndependencies = [\n 'a', # c\n \"b\\\"\"]\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, e := range parseRequirements(text) {
			if strings.TrimSpace(e) == "" {
				t.Fatalf("blank entry from %q", text)
			}
		}
		_ = requirementNames(parseRequirements(text))
		_ = pyprojectDependencies(text)
	})
}

func TestPythonApp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, src, attr, kind string
	}{
		{"app.py", "from flask import Flask\napp = Flask(__name__)\n", "app", "wsgi"},
		{"wsgi.py", "def application(environ, start_response):\n    pass\n", "application", "wsgi"},
		{"main.py", "from fastapi import FastAPI\napp: FastAPI = FastAPI()\n", "app", "asgi"},
		{"asgi.py", "application = get_asgi_application()\n", "application", "asgi"},
		{"app.py", "async def app(scope, receive, send):\n    pass\n", "app", "asgi"},
		{"app.py", "app = make()\napplication = wrap(app)\n", "application", "wsgi"},
		// The standard-library example: no module-level app callable.
		{"app.py", "def main():\n    app = 1\nif __name__ == '__main__':\n    main()\n", "", ""},
		{"app.py", "app == 3\napplication_name = 'x'\n", "", ""},
	} {
		attr, kind := pythonApp(tc.file, tc.src)
		if attr != tc.attr || kind != tc.kind {
			t.Errorf("pythonApp(%s, %q) = %q %q, want %q %q", tc.file, tc.src, attr, kind, tc.attr, tc.kind)
		}
	}
}

func TestGoExecName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com/hello":    "hello",
		"example.com/hello/v2": "hello",
		"hello":                "hello",
		"v2":                   "v2",
		"example.com/vx":       "vx",
	} {
		if got := goExecName(in); got != want {
			t.Errorf("goExecName(%q) = %q, want %q", in, got, want)
		}
	}
}
