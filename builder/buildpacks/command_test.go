package buildpacks

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestCommandArgv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"web", []string{"web"}},
		{"  node  server.js --port=8080 ", []string{"node", "server.js", "--port=8080"}},
		{"./bin/server -addr :8080", []string{"./bin/server", "-addr", ":8080"}},
		{"python3 -m http.server $PORT", []string{"sh", "-c", "exec python3 -m http.server $PORT"}},
		{`gunicorn "app:create_app()"`, []string{"sh", "-c", `exec gunicorn "app:create_app()"`}},
		{"NODE_ENV=production node server.js", []string{"sh", "-c", "NODE_ENV=production node server.js"}},
		{"npm run migrate && node server.js", []string{"sh", "-c", "npm run migrate && node server.js"}},
		{"cd api; ./serve", []string{"sh", "-c", "cd api; ./serve"}},
		{"cd api", []string{"sh", "-c", "cd api"}},
		{"exec ./serve", []string{"sh", "-c", "exec ./serve"}},
		{"./serve > log.txt", []string{"sh", "-c", "./serve > log.txt"}},
		{"ls *.txt", []string{"sh", "-c", "exec ls *.txt"}},
		{"echo ~", []string{"sh", "-c", "exec echo ~"}},
		{"", nil},
		{"   ", nil},
	} {
		if got := commandArgv(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("commandArgv(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestResolveCommandNPM(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{"start": "node server.js", "web": "next start -p $PORT", "empty": ""}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"npm start", []string{"node", "server.js"}},
		{"npm run start", []string{"node", "server.js"}},
		{"npm run-script web", []string{"sh", "-c", "exec next start -p $PORT"}},
		{"npm run missing", []string{"npm", "run", "missing"}},
		{"npm run empty", []string{"npm", "run", "empty"}},
		{"npm start -- --verbose", []string{"npm", "start", "--", "--verbose"}},
		{"node other.js", []string{"node", "other.js"}},
	} {
		if got := resolveCommand(tc.line, scripts); !slices.Equal(got, tc.want) {
			t.Errorf("resolveCommand(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	if got := resolveCommand("npm start", nil); !slices.Equal(got, []string{"npm", "start"}) {
		t.Errorf("without package.json: %q", got)
	}
}

// FuzzCommandArgv checks that a plain line is split exactly into its
// words, and that a line kept for the shell is kept whole.
func FuzzCommandArgv(f *testing.F) {
	for _, s := range []string{"web", "node server.js", "a && b", "X=1 y", "echo $HOME", "exec x", "'q'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got := commandArgv(line)
		trimmed := strings.TrimSpace(line)
		switch {
		case len(strings.Fields(line)) == 0:
			if got != nil {
				t.Fatalf("blank line gave %q", got)
			}
		case len(got) == 3 && got[0] == "sh" && got[1] == "-c":
			if got[2] != trimmed && got[2] != "exec "+trimmed {
				t.Fatalf("sh -c %q does not run %q", got[2], line)
			}
		default:
			if !isPlainLine(trimmed) || !slices.Equal(got, strings.Fields(line)) {
				t.Fatalf("direct argv %q for %q", got, line)
			}
		}
	})
}

// TestCommandArgvRunsLikeTheShell runs a few lines both ways: through sh
// and as the argv commandArgv gives. The output must match.
func TestCommandArgvRunsLikeTheShell(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"echo a  b",
		`echo "a  b" $((1+2))`,
		"X=1 sh -c 'echo $X'",
		"echo one; echo two",
		"printf %s:%s x y",
	} {
		want, err := exec.Command("sh", "-c", line).Output()
		if err != nil {
			t.Fatal(err)
		}
		argv := commandArgv(line)
		got, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		if string(got) != string(want) {
			t.Errorf("%q: argv %q printed %q, sh printed %q", line, argv, got, want)
		}
	}
}

func TestTOMLQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "new\nline\ttab\r", "\x00\x01\x7f", "ünï €", "\xff"} {
		q := tomlQuote(s)
		var back string
		if err := json.Unmarshal([]byte(q), &back); err != nil {
			t.Errorf("tomlQuote(%q) = %s, not a JSON string: %v", s, q, err)
			continue
		}
		if want := runeWise(s); back != want {
			t.Errorf("tomlQuote(%q) reads back as %q", s, back)
		}
		if strings.ContainsAny(q[1:len(q)-1], "\n\r\x00") {
			t.Errorf("tomlQuote(%q) = %s has a raw control character", s, q)
		}
	}
}

func TestTOMLStrings(t *testing.T) {
	t.Parallel()
	meta := map[string]string{"hash": "abc", "quote": `a"b`, "go": "go1.26.8"}
	written := layerTOML(layerTypes{Launch: true, Cache: true}, meta)
	// The lifecycle re-encodes what it restores: no indentation, other
	// tables around it.
	reencoded := "[metadata]\nhash = \"abc\"\nquote = \"a\\\"b\"\ngo = \"go1.26.8\"\nnumber = 3\n\"quoted key\" = \"x\"\n\n[other]\nhash = \"no\"\n"
	for _, doc := range []string{written, reencoded} {
		got := tomlStrings(doc, "metadata")
		for k, v := range meta {
			if got[k] != v {
				t.Errorf("metadata %s = %q, want %q in\n%s", k, got[k], v, doc)
			}
		}
		if len(got) != len(meta) {
			t.Errorf("metadata = %v, want only %v", got, meta)
		}
	}
	if got := layerTypesOf(written); got != (layerTypes{Launch: true, Cache: true}) {
		t.Errorf("types = %+v", got)
	}
}

// FuzzTOMLStrings feeds layer metadata (restored by the lifecycle) and
// buildpack.toml through the reader: it must not fail, and what
// layerTOML writes must read back.
func FuzzTOMLStrings(f *testing.F) {
	f.Add("[metadata]\nk = \"v\"\n", "k", "v")
	f.Add("[[processes]]\ntype = \"web\"\n", "a-b_c", "\\\"\n")
	f.Fuzz(func(t *testing.T, doc, key, value string) {
		_ = tomlStrings(doc, "metadata")
		if !isBareKey(key) {
			return
		}
		got := tomlStrings(layerTOML(layerTypes{}, map[string]string{key: value}), "metadata")
		if want := runeWise(value); got[key] != want {
			t.Fatalf("metadata %q = %q reads back as %q", key, value, got[key])
		}
	})
}

// runeWise returns s with each invalid byte replaced by U+FFFD, as ranging
// over a string (and so tomlQuote) sees it.
func runeWise(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
