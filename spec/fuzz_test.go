package spec

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// yamlSeeds are realistic files and every construct of the subset, as
// starting points for the fuzzers.
var yamlSeeds = []string{
	appRunnerMinimal,
	appRunnerPythonFull,
	appRunnerPythonRevised,
	appRunnerNode,
	"version: 1.0\nbuild:\n  commands:\n    build: go build -o app .\n  dockerfile: Dockerfile\nrun:\n  command: ./app\n",
	"---\nversion: '1.0'\nrun:\n  env:\n  - name: A\n    value: \"x\\ty\"\n  - {name: B, value: 2}\n...\n",
	"a: [x, 'y', \"z\", {k: v}, [1, 2]]\nb: {c: ~, d: null}\n",
	"s: |-\n  one\n    two\n\nf: >+\n  a\n  b\n\n  c\n\n",
	"- - a\n  - b\n- k: v\n  l:\n  - 1\n",
	"a: &x 1\nb: *x\nc: !!str 2\n<<: {}\n",
	"\uFEFFa: 1\r\nb: 2\r\n",
	"a:\n\tb: 1\n",
	"k: \"\\u00e9 \\x41 \\U0001F600\"\n",
	"a: [\n  1,\n  2,\n]\n",
	"? complex\n: key\n",
}

func FuzzParseYAML(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseYAML(data)
		if err != nil {
			if n != nil {
				t.Fatalf("node returned with error %v", err)
			}
			ye, ok := err.(*YAMLError)
			if !ok || ye.Message == "" {
				t.Fatalf("error %#v is not a *YAMLError with a message", err)
			}
			return
		}
		checkYAMLTree(t, n, bytes.Count(data, []byte("\n"))+1, 0)
		// Written out again in block or flow style, the tree must read back
		// the same.
		want := dumpYAML(n)
		for style, out := range map[string]string{"block": emitYAMLBlock(n, ""), "flow": emitYAMLFlow(n) + "\n"} {
			back, err := ParseYAML([]byte(out))
			if err != nil {
				t.Fatalf("%s form of %s does not parse: %v\n%s", style, want, err, out)
			}
			if got := dumpYAML(back); got != want {
				t.Fatalf("%s form reads back as\n%s\nwant\n%s\nform:\n%s", style, got, want, out)
			}
		}
		// The decoder must not panic on any tree either.
		var target decodeTarget
		_ = n.Decode(&target)
	})
}

// emitYAMLFlow writes n in flow style, every scalar double-quoted (Go's
// escapes are a subset of YAML's).
func emitYAMLFlow(n *YAMLNode) string {
	switch n.Kind {
	case YAMLNull:
		return "~"
	case YAMLScalar:
		return strconv.Quote(n.Value)
	case YAMLSequence:
		parts := make([]string, len(n.Items))
		for i, item := range n.Items {
			parts[i] = emitYAMLFlow(item)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	parts := make([]string, len(n.Pairs))
	for i, p := range n.Pairs {
		parts[i] = strconv.Quote(p.Key.Value) + ": " + emitYAMLFlow(p.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// emitYAMLBlock writes n in block style at indentation indent, with empty
// collections and scalars in flow style.
func emitYAMLBlock(n *YAMLNode, indent string) string {
	var b strings.Builder
	nested := func(v *YAMLNode) bool { return len(v.Items) > 0 || len(v.Pairs) > 0 }
	switch {
	case !nested(n):
		return indent + emitYAMLFlow(n) + "\n"
	case n.Kind == YAMLSequence:
		for _, item := range n.Items {
			if nested(item) {
				b.WriteString(indent + "-\n" + emitYAMLBlock(item, indent+"  "))
			} else {
				b.WriteString(indent + "- " + emitYAMLFlow(item) + "\n")
			}
		}
	default:
		for _, p := range n.Pairs {
			key := indent + strconv.Quote(p.Key.Value) + ":"
			if nested(p.Value) {
				b.WriteString(key + "\n" + emitYAMLBlock(p.Value, indent+"  "))
			} else {
				b.WriteString(key + " " + emitYAMLFlow(p.Value) + "\n")
			}
		}
	}
	return b.String()
}

// checkYAMLTree checks the invariants of a parsed tree: positions inside
// the input, keys that are unique scalars, nesting within the limit.
func checkYAMLTree(t *testing.T, n *YAMLNode, lines, depth int) {
	t.Helper()
	if n == nil {
		t.Fatal("nil node")
	}
	if n.Line < 1 || n.Line > lines || n.Column < 1 {
		t.Fatalf("node at %d:%d outside an input of %d lines", n.Line, n.Column, lines)
	}
	switch n.Kind {
	case YAMLNull:
		if n.Value != "" || n.Items != nil || n.Pairs != nil {
			t.Fatalf("null node with content: %+v", n)
		}
	case YAMLScalar:
		if n.Items != nil || n.Pairs != nil {
			t.Fatalf("scalar with children: %+v", n)
		}
	case YAMLSequence, YAMLMapping:
		if depth >= MaxYAMLDepth {
			t.Fatalf("nesting deeper than %d", MaxYAMLDepth)
		}
		seen := map[string]bool{}
		for _, p := range n.Pairs {
			if p.Key == nil || p.Key.Kind != YAMLScalar || p.Value == nil {
				t.Fatalf("bad pair %+v", p)
			}
			if seen[p.Key.Value] {
				t.Fatalf("duplicate key %q", p.Key.Value)
			}
			seen[p.Key.Value] = true
			checkYAMLTree(t, p.Value, lines, depth+1)
		}
		for _, item := range n.Items {
			checkYAMLTree(t, item, lines, depth+1)
		}
	default:
		t.Fatalf("unknown kind %v", n.Kind)
	}
}

func FuzzParseAppConfig(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseAppConfig(data)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("ParseAppConfig accepted a config that Validate refuses: %v", verr)
			}
			if p := cfg.EffectivePort(); p < 1 || p > 65535 {
				t.Fatalf("EffectivePort() = %d", p)
			}
			return
		}
		ps, ok := AsProblems(err)
		if !ok || len(ps) == 0 {
			t.Fatalf("error %v is not a non-empty Problems", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range ps {
			if p.Message == "" || p.Line < 0 || p.Line > lines {
				t.Fatalf("bad problem %+v for an input of %d lines", p, lines)
			}
		}
	})
}

func FuzzParseProcfile(f *testing.F) {
	for _, s := range []string{
		"web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker: celery -A app worker\n",
		"# Procfile\r\nweb: bundle exec puma -C config/puma.rb\r\nrelease: rails db:migrate\r\n",
		"web: a\nWEB: b\n",
		"web:\n: x\nno colon\n",
		"\uFEFFweb: node server.js\n\n\n",
		"a-b_C9: x\n-x: y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		procs, err := ParseProcfile(data)
		if err != nil {
			ps, ok := AsProblems(err)
			if !ok || len(ps) == 0 || procs != nil {
				t.Fatalf("ParseProcfile = %v, %v", procs, err)
			}
			return
		}
		if len(procs) == 0 || len(procs) > MaxProcessTypes {
			t.Fatalf("%d processes", len(procs))
		}
		seen := map[string]bool{}
		for _, p := range procs {
			if !processTypeRE.MatchString(p.Type) {
				t.Fatalf("invalid type %q", p.Type)
			}
			if seen[strings.ToLower(p.Type)] {
				t.Fatalf("duplicate type %q", p.Type)
			}
			seen[strings.ToLower(p.Type)] = true
			if p.Command == "" || strings.TrimSpace(p.Command) != p.Command || strings.ContainsAny(p.Command, "\x00\r\n") {
				t.Fatalf("bad command %q", p.Command)
			}
		}
	})
}
