package spec

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// apprun reads apprun.yaml (and App Runner's apprunner.yaml) with this small
// parser rather than a general YAML library: the files are short and
// simple, and a strict subset means that a file either means exactly what it
// looks like, to apprun and to any other YAML reader, or is refused with the
// line at fault.

// Limits that bound the work a hostile or broken file can cause.
const (
	// MaxYAMLSize is the largest input ParseYAML accepts, in bytes.
	MaxYAMLSize = 1 << 20
	// MaxYAMLDepth is the deepest nesting of mappings and sequences
	// ParseYAML accepts.
	MaxYAMLDepth = 64
)

// YAMLKind is what a YAMLNode holds.
type YAMLKind uint8

// The kinds of node. A null node is an empty value or one of the plain
// scalars ~, null, Null and NULL.
const (
	YAMLNull YAMLKind = iota
	YAMLScalar
	YAMLMapping
	YAMLSequence
)

func (k YAMLKind) String() string {
	switch k {
	case YAMLNull:
		return "null"
	case YAMLScalar:
		return "scalar"
	case YAMLMapping:
		return "mapping"
	case YAMLSequence:
		return "sequence"
	}
	return fmt.Sprintf("YAMLKind(%d)", uint8(k))
}

// YAMLStyle is how a scalar was written. The decoder uses it to tell the
// number 8000 from the string "8000".
type YAMLStyle uint8

// The scalar styles.
const (
	YAMLPlain YAMLStyle = iota
	YAMLSingleQuoted
	YAMLDoubleQuoted
	YAMLLiteral // a | block scalar
	YAMLFolded  // a > block scalar
)

// YAMLNode is one node of a parsed YAML document.
type YAMLNode struct {
	Kind YAMLKind
	// Style is how a scalar was written (plain for the other kinds).
	Style YAMLStyle
	// Value is a scalar's text, with quotes and escapes resolved and block
	// scalars folded and chomped.
	Value string
	// Items are a sequence's entries.
	Items []*YAMLNode
	// Pairs are a mapping's entries, in the order of the file.
	Pairs []YAMLPair
	// Line and Column (1-based; the column counts characters) say where the
	// node starts.
	Line, Column int
}

// YAMLPair is one entry of a mapping. Key is always a scalar.
type YAMLPair struct {
	Key   *YAMLNode
	Value *YAMLNode
}

// Lookup returns the value of key in a mapping, or nil if n is not a mapping
// or has no such key.
func (n *YAMLNode) Lookup(key string) *YAMLNode {
	if n == nil || n.Kind != YAMLMapping {
		return nil
	}
	for _, p := range n.Pairs {
		if p.Key.Value == key {
			return p.Value
		}
	}
	return nil
}

// YAMLError is a syntax error: the input is not in the supported subset.
type YAMLError struct {
	// Line and Column (1-based) locate the error; Line is 0 for an error
	// about the whole input (its size or encoding).
	Line, Column int
	Message      string
}

func (e *YAMLError) Error() string {
	if e.Line == 0 {
		return "yaml: " + e.Message
	}
	return fmt.Sprintf("yaml: line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// ParseYAML parses one YAML document in apprun's strict subset of YAML 1.2:
// block mappings and sequences, plain, single- and double-quoted scalars,
// literal (|) and folded (>) block scalars with their chomping and
// indentation indicators, comments, and flow collections ([a, "b"], {a: 1}),
// with an optional leading --- and trailing ..., CRLF line ends and a byte
// order mark. It refuses, naming the line, anchors, aliases, tags, merge
// keys, complex (?) keys, directives, more than one document, tabs used for
// indentation, duplicate or null keys, quoted strings that do not end on
// their line, plain values continued on the next line, invalid UTF-8 and
// control characters, input over MaxYAMLSize and nesting deeper than
// MaxYAMLDepth. An empty document (or one of only comments) is a null node.
// Every error is a *YAMLError.
func ParseYAML(data []byte) (*YAMLNode, error) {
	if len(data) > MaxYAMLSize {
		return nil, &YAMLError{Message: fmt.Sprintf("input is %d bytes; the limit is %d (1 MiB)", len(data), MaxYAMLSize)}
	}
	lines, err := splitYAMLLines(data)
	if err != nil {
		return nil, err
	}
	p := &yamlParser{lines: lines, unterminated: len(data) > 0 && data[len(data)-1] != '\n'}
	return p.parseDocument()
}

// splitYAMLLines drops a UTF-8 byte order mark, turns CRLF into LF and
// splits the input into lines, refusing invalid UTF-8 and control
// characters (which YAML forbids and which would only hide mischief in a
// config file).
func splitYAMLLines(data []byte) ([]string, error) {
	text := strings.TrimPrefix(string(data), "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		// The final line break ends the last line; it does not start
		// another (which a keep-chomped block scalar would count).
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		col := 0
		for j := 0; j < len(line); {
			r, size := utf8.DecodeRuneInString(line[j:])
			col++
			switch {
			case r == utf8.RuneError && size == 1:
				return nil, &YAMLError{Line: i + 1, Column: col, Message: "invalid UTF-8"}
			case r == '\r':
				return nil, &YAMLError{Line: i + 1, Column: col, Message: "carriage return without a line feed"}
			case r == '\uFEFF':
				return nil, &YAMLError{Line: i + 1, Column: col, Message: "byte order mark inside the document"}
			case r == 0x85 || r == 0x2028 || r == 0x2029:
				// YAML 1.1 readers take these for line breaks and YAML 1.2
				// readers do not, so the file would mean two things.
				return nil, &YAMLError{Line: i + 1, Column: col, Message: fmt.Sprintf("line separator %U is not allowed; write it as an escape in a double-quoted string", r)}
			case r < 0x20 && r != '\t', r >= 0x7f && r <= 0x9f:
				return nil, &YAMLError{Line: i + 1, Column: col, Message: fmt.Sprintf("control character %U is not allowed", r)}
			}
			j += size
		}
	}
	return lines, nil
}

// yamlParser is a recursive-descent parser over lines. The cursor is a line
// (row) and a byte offset in it (col); a node that starts in the middle of a
// line (after "- " or "key: ") is parsed from there, and every node parser
// leaves the cursor at the start of the first line it did not consume.
type yamlParser struct {
	lines []string
	// unterminated is set when the last line has no line break, which a
	// block scalar that ends there must not gain.
	unterminated bool
	row          int
	col          int
	depth        int
	// colRow, colByte and colRunes remember the last byte offset converted
	// to a character column (see column).
	colRow, colByte, colRunes int
}

// column converts a byte offset of a line to a 1-based character column.
// Parsing moves forward along a line, so it counts on from the offset it
// converted last instead of from the start of the line: a long flow
// sequence on one line would otherwise take quadratic time.
func (p *yamlParser) column(row, col int) int {
	if row >= len(p.lines) {
		return 1
	}
	line := p.lines[row]
	col = min(max(col, 0), len(line))
	if row != p.colRow || col < p.colByte {
		p.colRow, p.colByte, p.colRunes = row, 0, 0
	}
	p.colRunes += utf8.RuneCountInString(line[p.colByte:col])
	p.colByte = col
	return p.colRunes + 1
}

// errAt returns a *YAMLError at a byte offset of a line.
func (p *yamlParser) errAt(row, col int, format string, args ...any) error {
	return &YAMLError{Line: row + 1, Column: p.column(row, col), Message: fmt.Sprintf(format, args...)}
}

// errHere returns a *YAMLError at the cursor.
func (p *yamlParser) errHere(format string, args ...any) error {
	return p.errAt(p.row, p.col, format, args...)
}

// node returns an empty node of kind k at the cursor.
func (p *yamlParser) node(k YAMLKind) *YAMLNode { return p.nodeAt(p.col, k) }

// nodeAt returns an empty node of kind k at a byte offset of the current
// line.
func (p *yamlParser) nodeAt(col int, k YAMLKind) *YAMLNode {
	return &YAMLNode{Kind: k, Line: p.row + 1, Column: p.column(p.row, col)}
}

// errNode returns a *YAMLError at the start of node n.
func errNode(n *YAMLNode, format string, args ...any) error {
	return &YAMLError{Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)}
}

// enter counts one more level of nesting and refuses too many.
func (p *yamlParser) enter() error {
	p.depth++
	if p.depth > MaxYAMLDepth {
		return p.errHere("nesting is deeper than %d levels", MaxYAMLDepth)
	}
	return nil
}

func (p *yamlParser) leave() { p.depth-- }

// isDocMarker reports whether line is a document start (---) or end (...)
// marker, which YAML recognizes only at the start of a line.
func isDocMarker(line, marker string) bool {
	if !strings.HasPrefix(line, marker) {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t'
}

func isAnyDocMarker(line string) bool {
	return isDocMarker(line, "---") || isDocMarker(line, "...")
}

// onlyComment reports whether s holds nothing but blanks and a comment.
func onlyComment(s string) bool {
	s = strings.TrimLeft(s, " \t")
	return s == "" || s[0] == '#'
}

// parseDocument parses the single document of the input.
func (p *yamlParser) parseDocument() (*YAMLNode, error) {
	indent, err := p.peek()
	if err != nil {
		return nil, err
	}
	if indent == 0 && strings.HasPrefix(p.lines[p.row], "%") {
		return nil, p.errHere("directives (%%) are not supported")
	}
	if p.row < len(p.lines) && isDocMarker(p.lines[p.row], "---") {
		if !onlyComment(p.lines[p.row][3:]) {
			return nil, p.errAt(p.row, 4, "content on the --- line is not supported; start it on the next line")
		}
		p.row++
		if indent, err = p.peek(); err != nil {
			return nil, err
		}
	}
	root := &YAMLNode{Kind: YAMLNull, Line: 1, Column: 1}
	if indent >= 0 {
		p.col = indent
		if root, err = p.parseBlockAt(-1, indent); err != nil {
			return nil, err
		}
	}
	if err := p.parseDocumentEnd(); err != nil {
		return nil, err
	}
	return root, nil
}

// parseDocumentEnd checks that nothing but an end marker, blank lines and
// comments follow the document.
func (p *yamlParser) parseDocumentEnd() error {
	indent, err := p.peek()
	if err != nil || p.row >= len(p.lines) {
		return err
	}
	line := p.lines[p.row]
	switch {
	case isDocMarker(line, "---"):
		return p.errAt(p.row, 0, "multiple documents are not supported")
	case isDocMarker(line, "..."):
		if !onlyComment(line[3:]) {
			return p.errAt(p.row, 4, "unexpected content after the document end marker")
		}
		p.row++
		if _, err := p.peek(); err != nil || p.row >= len(p.lines) {
			return err
		}
		if isDocMarker(p.lines[p.row], "---") {
			return p.errAt(p.row, 0, "multiple documents are not supported")
		}
		return p.errAt(p.row, 0, "unexpected content after the end of the document")
	case indent > 0:
		return p.errAt(p.row, indent, "bad indentation: this line is indented more than the value above it (a value continued on a new line needs | or >)")
	}
	return p.errAt(p.row, indent, "unexpected content after the document's top-level value")
}

// peek moves the cursor to the start of the next line with content,
// skipping blank and comment lines, and returns its indentation; at the end
// of the input or at a document marker it returns -1.
func (p *yamlParser) peek() (int, error) {
	p.col = 0
	for ; p.row < len(p.lines); p.row++ {
		line := p.lines[p.row]
		i := 0
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if onlyComment(line[i:]) {
			continue
		}
		if isAnyDocMarker(line) {
			return -1, nil
		}
		if line[i] == '\t' {
			return 0, p.errAt(p.row, i, "tab character used for indentation; indent with spaces")
		}
		return i, nil
	}
	return -1, nil
}

// nextLine moves the cursor to the start of the next line.
func (p *yamlParser) nextLine() {
	p.row++
	p.col = 0
}

// finishLine checks that only blanks and a comment remain on the line and
// moves to the next one.
func (p *yamlParser) finishLine(what string) error {
	line := p.lines[p.row]
	i := p.col
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	switch {
	case i == len(line), line[i] == '#' && i > p.col:
	case line[i] == '#':
		return p.errAt(p.row, i, "a comment needs a space before '#'")
	case line[i] == ':':
		return p.errAt(p.row, i, "a %s cannot be a mapping key", what)
	default:
		return p.errAt(p.row, i, "unexpected text after the %s", what)
	}
	p.nextLine()
	return nil
}
