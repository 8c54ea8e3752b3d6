package spec

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dumpYAML renders a node tree compactly, so that a test can state the
// expected tree on one line: mappings as {k: v}, sequences as [a, b],
// scalars quoted and null as ~.
func dumpYAML(n *YAMLNode) string {
	switch n.Kind {
	case YAMLNull:
		return "~"
	case YAMLScalar:
		return strconv.Quote(n.Value)
	case YAMLSequence:
		parts := make([]string, len(n.Items))
		for i, item := range n.Items {
			parts[i] = dumpYAML(item)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	parts := make([]string, len(n.Pairs))
	for i, p := range n.Pairs {
		parts[i] = p.Key.Value + ": " + dumpYAML(p.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func TestParseYAMLSupported(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "~"},
		{"only comments", "# one\n  # two\n\n", "~"},
		{"document markers only", "---\n...\n", "~"},
		{"mapping", "a: 1\nb: two\n", `{a: "1", b: "two"}`},
		{"keys keep their order", "z: 1\na: 2\nm: 3\n", `{z: "1", a: "2", m: "3"}`},
		{"nested mapping", "run:\n  network:\n    port: 8000\n  command: x\n", `{run: {network: {port: "8000"}, command: "x"}}`},
		{"sequence", "- a\n- b\n", `["a", "b"]`},
		{"sequence under key", "k:\n  - a\n  - b\n", `{k: ["a", "b"]}`},
		{"sequence at the key's indentation", "k:\n- a\n- b\nn: 1\n", `{k: ["a", "b"], n: "1"}`},
		{"sequence of mappings", "env:\n  - name: A\n    value: x\n  - name: B\n    value: y\n", `{env: [{name: "A", value: "x"}, {name: "B", value: "y"}]}`},
		{"sequence of mappings at the key's indentation", "env:\n- name: A\n  value: x\nrun: 1\n", `{env: [{name: "A", value: "x"}], run: "1"}`},
		{"list inside a list item's mapping", "- name: a\n  args:\n  - x\n  - y\n  more: z\n", `[{name: "a", args: ["x", "y"], more: "z"}]`},
		{"wide list item indentation", "-   name: a\n    v: b\n", `[{name: "a", v: "b"}]`},
		{"nested sequences", "- - a\n  - b\n- c\n", `[["a", "b"], "c"]`},
		{"list item on its own line", "-\n  a: 1\n-\n", `[{a: "1"}, ~]`},
		{"empty value before a sibling", "- a:\n- b\n", `[{a: ~}, "b"]`},
		{"null values", "a:\nb: ~\nc: null\nd: NULL\ne: 'null'\n", `{a: ~, b: ~, c: ~, d: ~, e: "null"}`},
		{"value on the next line", "a:\n  plain text\n", `{a: "plain text"}`},
		{"plain scalars", "url: https://x.io/a?b=c#frag\ncmd: echo a:b # note\nsp: trailing   \nneg: -1\n", `{url: "https://x.io/a?b=c#frag", cmd: "echo a:b", sp: "trailing", neg: "-1"}`},
		{"dash in a command", "c: run --log-file -\n", `{c: "run --log-file -"}`},
		{"comment right after the key", "a: # the list\n  - x\n", `{a: ["x"]}`},
		{"single quotes", `a: 'it''s # not a comment'` + "\n", `{a: "it's # not a comment"}`},
		{"double quote escapes", `a: "t\tn\n q\" b\\ u\u00e9 x\x41 U\U0001F600 s\/ z\0"` + "\n", `{a: "t\tn\n q\" b\\ ué xA U😀 s/ z\x00"}`},
		{"quoted keys", `"a b": 1` + "\n'c': 2\n\"d\" : 3\n", `{a b: "1", c: "2", d: "3"}`},
		{"tab as a separator", "a:\tvalue\n", `{a: "value"}`},
		{"flow sequence", `a: [x, "y z", 'w', 3]` + "\n", `{a: ["x", "y z", "w", "3"]}`},
		{"flow mapping", "a: {k: v, n: 1}\n", `{a: {k: "v", n: "1"}}`},
		{"nested flow", "a: [{k: v}, [1, 2], {}]\n", `{a: [{k: "v"}, ["1", "2"], {}]}`},
		{"empty flow", "a: []\nb: {}\n", `{a: [], b: {}}`},
		{"flow trailing comma", "a: [x, y,]\n", `{a: ["x", "y"]}`},
		{"flow over lines", "a: [\n  x,  # one\n  y\n]\nb: 1\n", `{a: ["x", "y"], b: "1"}`},
		{"flow json style", `a: {"k":1, "l": [true]}` + "\n", `{a: {k: "1", l: ["true"]}}`},
		{"flow null values", "a: {k, l: , m: ~}\n", `{a: {k: ~, l: ~, m: ~}}`},
		{"flow plain with colon", "a: [http://x:80/p]\n", `{a: ["http://x:80/p"]}`},
		{"top-level flow", "[a, b]\n", `["a", "b"]`},
		{"top-level scalar", "hello\n", `"hello"`},
		{"literal", "s: |\n  one\n   two\n  # not a comment\n\nn: 1\n", `{s: "one\n two\n# not a comment\n", n: "1"}`},
		{"literal strip", "s: |-\n  one\n\n", `{s: "one"}`},
		{"literal keep", "s: |+\n  one\n\n\nn: 1\n", `{s: "one\n\n\n", n: "1"}`},
		{"literal keep at end of input", "s: |+\n  one\n\n", `{s: "one\n\n"}`},
		{"literal with leading blank line", "s: |\n\n  one\n", `{s: "\none\n"}`},
		{"literal with tab content", "s: |\n  \tindented\n", `{s: "\tindented\n"}`},
		{"literal explicit indentation", "s: |2\n    four\n  two\n", `{s: "  four\ntwo\n"}`},
		{"indicators in either order", "a: |2-\n   x\nb: |-2\n   y\n", `{a: " x", b: " y"}`},
		{"folded", "s: >\n  one\n  two\n\n  three\n", `{s: "one two\nthree\n"}`},
		{"folded strip", "s: >-\n  one\n  two\n", `{s: "one two"}`},
		{"folded keep", "s: >+\n  one\n\n", `{s: "one\n\n"}`},
		{"folded more indented", "s: >\n  a\n    b\n  c\n", `{s: "a\n  b\nc\n"}`},
		{"empty block scalar", "s: |\nn: 1\n", `{s: "", n: "1"}`},
		{"block scalar in a list", "- |\n  x\n- >-\n  y\n  z\n", `["x\n", "y z"]`},
		{"block scalar in a list item's mapping", "- run: |\n    echo hi\n  name: a\n", `[{run: "echo hi\n", name: "a"}]`},
		{"document start", "--- # doc\na: 1\n", `{a: "1"}`},
		{"document end", "a: 1\n...\n# trailing\n", `{a: "1"}`},
		{"byte order mark", "\uFEFFa: 1\n", `{a: "1"}`},
		{"CRLF", "a: 1\r\nb:\r\n  - x\r\ns: |\r\n  l1\r\n  l2\r\n", `{a: "1", b: ["x"], s: "l1\nl2\n"}`},
		{"no final newline", "a: 1", `{a: "1"}`},
		{"block scalar without a final newline", "a: |\n  x", `{a: "x"}`},
		{"keep-chomped block scalar without a final newline", "a: |+\n  x\n", `{a: "x\n"}`},
		{"keep-chomped blank lines without a final newline", "a: |+\n  x\n\n  ", `{a: "x\n\n"}`},
		{"top-level block scalar", "|\n  text\n", `"text\n"`},
		{"comment lines between", "a:\n# c\n  # c\n  b: 1\n", `{a: {b: "1"}}`},
		{"key with dash and dots", "pre-build: 1\nx.y: 2\n-z: 3\n-: 4\n", `{pre-build: "1", x.y: "2", -z: "3", -: "4"}`},
		{"quoted null key", "'null': 1\n", `{null: "1"}`},
		{"keep-chomped block of blank lines", "a: |+\n\n  \nb: 1\n", `{a: "\n\n", b: "1"}`},
		{"spaces after the indentation are text", "a: |\n  x\n    \n  y\n", `{a: "x\n  \ny\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseYAML([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseYAML(%q): %v", tt.in, err)
			}
			if got := dumpYAML(n); got != tt.want {
				t.Errorf("ParseYAML(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseYAMLRefused(t *testing.T) {
	deep := strings.Repeat("[", MaxYAMLDepth+1) + strings.Repeat("]", MaxYAMLDepth+1)
	var deepBlock strings.Builder
	for i := range MaxYAMLDepth + 1 {
		deepBlock.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	deepBlock.WriteString(strings.Repeat(" ", MaxYAMLDepth+1) + "v: 1\n")
	tests := []struct {
		name, in string
		line     int
		want     string
	}{
		{"tab indentation", "a:\n\tb: 1\n", 2, "tab character used for indentation"},
		{"tab after a list dash", "-\tname: a\n", 1, "tab character after '-'"},
		{"tab indentation in flow", "a: [\n\tb]\n", 2, "tab character used for indentation"},
		{"anchor", "a: &x 1\n", 1, "anchors (&) are not supported"},
		{"anchor on a mapping", "a: &x\n  b: 1\n", 1, "anchors"},
		{"alias", "a: 1\nb: *a\n", 2, "aliases (*) are not supported"},
		{"alias in flow", "a: [*x]\n", 1, "aliases"},
		{"tag", "a: !!str 1\n", 1, "tags (!) are not supported"},
		{"tag on a list item", "- !thing x\n", 1, "tags"},
		{"anchor as key", "&a k: 1\n", 1, "anchors"},
		{"merge key", "a:\n  <<: *base\n", 2, "merge keys (<<) are not supported"},
		{"merge key in flow", "a: {<<: x}\n", 1, "merge keys"},
		{"multiple documents", "a: 1\n---\nb: 2\n", 2, "multiple documents are not supported"},
		{"document after end", "a: 1\n...\n---\nb: 2\n", 3, "multiple documents"},
		{"content after end", "a: 1\n...\nb: 2\n", 3, "after the end of the document"},
		{"content on the start line", "--- a: 1\n", 1, "content on the --- line"},
		{"directive", "%YAML 1.2\n---\na: 1\n", 1, "directives"},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", 3, `duplicate key "a" (first on line 1)`},
		{"duplicate quoted key", "a: 1\n\"a\": 2\n", 2, `duplicate key "a"`},
		{"duplicate key in flow", "a: {x: 1, x: 2}\n", 1, `duplicate key "x"`},
		{"deeper key", "a:\n  b: 1\n    c: 2\n", 3, "bad indentation"},
		{"shallower key", "a:\n    b: 1\n  c: 2\n", 3, "bad indentation"},
		{"continued plain value", "a: one\n  two\n", 2, "bad indentation"},
		{"deeper list item", "- a\n  - b\n", 2, "bad indentation"},
		{"list item among keys", "a: 1\n- b\n", 2, "expected a key, found a list item"},
		{"key among list items", "- a\nb: 1\n", 2, "after the document's top-level value"},
		{"unterminated single quote", "a: 'x\n", 1, "unterminated quoted string"},
		{"unterminated double quote", "a: \"x\\\"\n", 1, "unterminated quoted string"},
		{"multi-line quote", "a: \"x\n  y\"\n", 1, "unterminated quoted string"},
		{"unterminated flow", "a: [x, y\nb: 1\n", 1, "unterminated flow collection"},
		{"unterminated flow mapping", "a: {x: 1", 1, "no closing '}'"},
		{"input too large", "a: " + strings.Repeat("x", MaxYAMLSize) + "\n", 0, "the limit is 1048576"},
		{"nesting too deep in flow", "a: " + deep + "\n", 1, "nesting is deeper than 64 levels"},
		{"nesting too deep in blocks", deepBlock.String(), MaxYAMLDepth + 1, "nesting is deeper than 64 levels"},
		{"complex key", "? a\n: b\n", 1, "complex mapping keys"},
		{"invalid escape", `a: "\q"` + "\n", 1, `invalid escape \q`},
		{"short hex escape", `a: "\x4"` + "\n", 1, "needs 2 hex digits"},
		{"surrogate escape", `a: "\ud800"` + "\n", 1, "not a valid Unicode character"},
		{"mapping on the key's line", "a: b: c\n", 1, "a mapping cannot start on the same line"},
		{"list on the key's line", "a: - b\n", 1, "a list cannot start on the same line"},
		{"text after a quoted string", "a: \"x\" y\n", 1, "unexpected text after the quoted string"},
		{"comment glued to a quoted string", "a: \"x\"#c\n", 1, "a comment needs a space"},
		{"flow collection as key", "[a]: b\n", 1, "cannot be a mapping key"},
		{"pair in a flow sequence", "a: [x: 1]\n", 1, "not supported; write it as {key: value}"},
		{"missing comma", "a: [x y, {k: v} z]\n", 1, "expected ',' or ']'"},
		{"missing comma in flow mapping", "a: {k: v w: x}\n", 1, "expected ',' or '}'"},
		{"empty flow item", "a: [x,,y]\n", 1, "unexpected ','"},
		{"colon starting a flow value", "a: [:x]\n", 1, "unexpected ':'"},
		{"top-level block scalar at the margin", "|\ntext\n", 2, "after the document's top-level value"},
		{"missing key", ": x\n", 1, "missing key"},
		{"null key", "~: x\n", 1, "must not be null"},
		{"null key in flow", "a: {null: x}\n", 1, "must not be null"},
		{"flow key and colon on two lines", "a: {k\n  : v}\n", 2, "on the same line as its key"},
		{"over-indented blank line in a block scalar", "a: |\n     \n   x\n", 2, "a blank line at the start of a block scalar"},
		{"reserved indicator", "a: @x\n", 1, "reserved"},
		{"block scalar header junk", "a: |x\n  y\n", 1, "unexpected text after the block scalar indicator"},
		{"invalid UTF-8", "a: 1\nb: \xff\n", 2, "invalid UTF-8"},
		{"control character", "a: \x01\n", 1, "control character U+0001"},
		{"C1 control character", "a: \u0090\n", 1, "control character U+0090"},
		{"next line character", "a: x\u0085y\n", 1, "line separator U+0085"},
		{"line separator", "a: x\u2028y\n", 1, "line separator U+2028"},
		{"lone carriage return", "a: 1\rb: 2\n", 1, "carriage return without a line feed"},
		{"byte order mark inside", "a: \uFEFF1\n", 1, "byte order mark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseYAML([]byte(tt.in))
			var ye *YAMLError
			if !errors.As(err, &ye) {
				t.Fatalf("ParseYAML(%.60q) = %v, %v; want a *YAMLError", tt.in, n, err)
			}
			if n != nil {
				t.Errorf("ParseYAML returned a node with an error")
			}
			if ye.Line != tt.line || !strings.Contains(ye.Message, tt.want) {
				t.Errorf("ParseYAML(%.60q) error = line %d %q; want line %d containing %q", tt.in, ye.Line, ye.Message, tt.line, tt.want)
			}
		})
	}
}

func TestParseYAMLPositions(t *testing.T) {
	in := "version: 1.0\nrun:\n  env:\n    - name: é\n      value: \"x\"\n  flow: [a, b]\n"
	n, err := ParseYAML([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	run := n.Lookup("run")
	item := run.Lookup("env").Items[0]
	flow := run.Lookup("flow")
	tests := []struct {
		name         string
		node         *YAMLNode
		line, column int
	}{
		{"root", n, 1, 1},
		{"version value", n.Lookup("version"), 1, 10},
		{"run mapping", run, 3, 3},
		{"env sequence", run.Lookup("env"), 4, 5},
		{"list item mapping", item, 4, 7},
		{"name value", item.Lookup("name"), 4, 13},
		{"quoted value", item.Lookup("value"), 5, 14},
		{"flow", flow, 6, 9},
		{"flow item", flow.Items[1], 6, 13},
	}
	for _, tt := range tests {
		if tt.node == nil {
			t.Errorf("%s: node missing", tt.name)
			continue
		}
		if tt.node.Line != tt.line || tt.node.Column != tt.column {
			t.Errorf("%s at %d:%d, want %d:%d", tt.name, tt.node.Line, tt.node.Column, tt.line, tt.column)
		}
	}
	if v := item.Lookup("value"); v.Style != YAMLDoubleQuoted {
		t.Errorf("quoted value style = %v, want double-quoted", v.Style)
	}
	if n.Lookup("missing") != nil || item.Lookup("name").Lookup("x") != nil {
		t.Error("Lookup of a missing key or on a scalar is not nil")
	}
}

func TestParseYAMLDepthLimitAllowsMax(t *testing.T) {
	in := "a: " + strings.Repeat("[", MaxYAMLDepth-1) + strings.Repeat("]", MaxYAMLDepth-1) + "\n"
	if _, err := ParseYAML([]byte(in)); err != nil {
		t.Fatalf("nesting of exactly %d levels refused: %v", MaxYAMLDepth, err)
	}
}

func TestYAMLErrorString(t *testing.T) {
	_, err := ParseYAML([]byte("a: 1\nb: *x\n"))
	if got, want := err.Error(), "yaml: line 2, column 4: aliases (*) are not supported"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParseYAMLLongLine guards against quadratic work on one long line: a
// character column counted from the start of the line for every node took
// 90 s on this input; it takes about 0.1 s.
func TestParseYAMLLongLine(t *testing.T) {
	in := "a: [" + strings.Repeat("é, ", MaxYAMLSize/4-10) + "]\n"
	start := time.Now()
	n, err := ParseYAML([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("parsing %d bytes on one line took %v", len(in), elapsed)
	}
	items := n.Lookup("a").Items
	if last := items[len(items)-1]; last.Column != 5+3*(len(items)-1) {
		t.Errorf("last item at column %d, want %d", last.Column, 5+3*(len(items)-1))
	}
}
