package spec

import "strings"

// This file parses the block structure: mappings and sequences laid out by
// indentation.

// isBlank reports whether c separates tokens on a line.
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isSeqEntry reports whether s (the rest of a line) starts a block sequence
// entry: a '-' followed by a blank or the end of the line.
func isSeqEntry(s string) bool {
	return len(s) > 0 && s[0] == '-' && (len(s) == 1 || isBlank(s[1]))
}

// isMappingEntry reports whether s (the rest of a line) starts with a
// mapping key: a plain or quoted scalar followed by ':' and a blank or the
// end of the line. A quote inside a plain scalar is text, as in YAML, so
// `echo "a: b"` is a key `echo "a` (YAML reads it that way too).
func isMappingEntry(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '"', '\'':
		_, n, msg := scanQuoted(s)
		if msg != "" {
			return false
		}
		rest := strings.TrimLeft(s[n:], " \t")
		return len(rest) > 0 && rest[0] == ':' && (len(rest) == 1 || isBlank(rest[1]))
	case '[', '{':
		return false
	}
	return plainKeyEnd(s) >= 0
}

// plainKeyEnd returns the offset of the ':' that ends a plain key at the
// start of s, or -1 if s holds no key before a comment or the end of line.
func plainKeyEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '#' && i > 0 && isBlank(s[i-1]):
			return -1
		case s[i] == ':' && (i+1 == len(s) || isBlank(s[i+1])):
			return i
		}
	}
	return -1
}

// parseBlockAt parses the node that starts at the cursor (column indent of
// the current line) inside a parent block at indentation parent.
func (p *yamlParser) parseBlockAt(parent, indent int) (*YAMLNode, error) {
	rest := p.lines[p.row][p.col:]
	switch {
	case isSeqEntry(rest):
		return p.parseBlockSequence(indent)
	case strings.HasPrefix(rest, "?") && (len(rest) == 1 || isBlank(rest[1])):
		return nil, p.errHere("complex mapping keys (?) are not supported")
	case isMappingEntry(rest):
		return p.parseBlockMapping(indent)
	}
	return p.parseScalarOrFlow(parent)
}

// parseBlockMapping parses a block mapping whose keys are at column indent;
// the cursor is on the first key.
func (p *yamlParser) parseBlockMapping(indent int) (*YAMLNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	m := p.node(YAMLMapping)
	seen := map[string]int{}
	for {
		key, err := p.parseBlockKey()
		if err != nil {
			return nil, err
		}
		if line, dup := seen[key.Value]; dup {
			return nil, errNode(key, "duplicate key %q (first on line %d)", key.Value, line)
		}
		seen[key.Value] = key.Line
		value, err := p.parseValue(indent, false)
		if err != nil {
			return nil, err
		}
		m.Pairs = append(m.Pairs, YAMLPair{Key: key, Value: value})
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch {
		case next < indent:
			return m, nil
		case next > indent:
			return nil, p.errAt(p.row, next, "bad indentation: this line is indented more than the key on line %d (keys of one mapping must line up; a value continued on a new line needs | or >)", key.Line)
		}
		p.col = indent
		rest := p.lines[p.row][indent:]
		if isSeqEntry(rest) {
			return nil, p.errHere("expected a key, found a list item (a list belongs under a key ending with ':')")
		}
		if !isMappingEntry(rest) {
			if strings.HasPrefix(rest, "?") && (len(rest) == 1 || isBlank(rest[1])) {
				return nil, p.errHere("complex mapping keys (?) are not supported")
			}
			return nil, p.errHere("expected a key followed by ':'")
		}
	}
}

// parseBlockKey parses the key at the cursor and moves past its ':'.
func (p *yamlParser) parseBlockKey() (*YAMLNode, error) {
	line := p.lines[p.row]
	key := p.node(YAMLScalar)
	rest := line[p.col:]
	if rest[0] == '"' || rest[0] == '\'' {
		value, n, msg := scanQuoted(rest)
		if msg != "" {
			return nil, p.errHere("%s", msg)
		}
		key.Value = value
		key.Style = YAMLDoubleQuoted
		if rest[0] == '\'' {
			key.Style = YAMLSingleQuoted
		}
		p.col += n
		for p.col < len(line) && isBlank(line[p.col]) {
			p.col++
		}
		if p.col == len(line) || line[p.col] != ':' {
			return nil, p.errHere("expected ':' after the key")
		}
		p.col++
		return key, nil
	}
	end := plainKeyEnd(rest)
	text := strings.TrimRight(rest[:end], " \t")
	if text == "" {
		return nil, p.errHere("missing key before ':'")
	}
	if msg := plainStartError(rest, false); msg != "" {
		return nil, p.errHere("%s", msg)
	}
	if text == "<<" {
		return nil, p.errHere("merge keys (<<) are not supported")
	}
	if isYAMLNull(text) {
		return nil, p.errHere("a mapping key must not be null; quote it")
	}
	key.Value = text
	p.col += end + 1
	return key, nil
}

// parseBlockSequence parses a block sequence whose '-' indicators are at
// column indent; the cursor is on the first one.
func (p *yamlParser) parseBlockSequence(indent int) (*YAMLNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	s := p.node(YAMLSequence)
	for {
		itemRow := p.row
		p.col++
		item, err := p.parseValue(indent, true)
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, item)
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch {
		case next > indent:
			return nil, p.errAt(p.row, next, "bad indentation: this line is indented more than the list item on line %d", itemRow+1)
		case next < indent:
			return s, nil
		}
		p.col = indent
		if !isSeqEntry(p.lines[p.row][indent:]) {
			// A sequence may sit at the same indentation as the key that
			// holds it; the next key ends it, and the mapping goes on.
			return s, nil
		}
	}
}

// parseValue parses the value after a key's ':' (seqItem false) or a
// sequence entry's '-' (seqItem true), where indent is the column of the
// key or the '-'. The value is on the same line or, if the line ends there,
// on the following, more indented lines.
func (p *yamlParser) parseValue(indent int, seqItem bool) (*YAMLNode, error) {
	line := p.lines[p.row]
	start := p.col
	for p.col < len(line) && isBlank(line[p.col]) {
		p.col++
	}
	if p.col == len(line) || line[p.col] == '#' {
		null := p.nodeAt(start, YAMLNull)
		p.nextLine()
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch {
		case next > indent:
			p.col = next
			return p.parseBlockAt(indent, next)
		case next == indent && !seqItem && isSeqEntry(p.lines[p.row][next:]):
			p.col = next
			return p.parseBlockSequence(next)
		}
		return null, nil
	}
	rest := line[p.col:]
	if !seqItem {
		switch {
		case isSeqEntry(rest):
			return nil, p.errHere("a list cannot start on the same line as its key; start it on the next line")
		case isMappingEntry(rest):
			return nil, p.errHere("a mapping cannot start on the same line as its key (as in a: b: c); start it on the next line, or quote the value")
		}
		return p.parseScalarOrFlow(indent)
	}
	if strings.Contains(line[start:p.col], "\t") && (isSeqEntry(rest) || isMappingEntry(rest)) {
		return nil, p.errAt(p.row, start, "tab character after '-'; indent with spaces")
	}
	return p.parseBlockAt(indent, p.col)
}

// parseScalarOrFlow parses a scalar or a flow collection at the cursor, in a
// block whose parent is at indentation parent.
func (p *yamlParser) parseScalarOrFlow(parent int) (*YAMLNode, error) {
	line := p.lines[p.row]
	switch line[p.col] {
	case '|', '>':
		return p.parseBlockScalar(parent)
	case '[', '{':
		n, err := p.parseFlowNode(parent)
		if err != nil {
			return nil, err
		}
		return n, p.finishLine("flow collection")
	case '"', '\'':
		n := p.node(YAMLScalar)
		value, size, msg := scanQuoted(line[p.col:])
		if msg != "" {
			return nil, p.errHere("%s", msg)
		}
		n.Value = value
		n.Style = YAMLDoubleQuoted
		if line[p.col] == '\'' {
			n.Style = YAMLSingleQuoted
		}
		p.col += size
		return n, p.finishLine("quoted string")
	}
	n := p.node(YAMLScalar)
	if msg := plainStartError(line[p.col:], false); msg != "" {
		return nil, p.errHere("%s", msg)
	}
	end := len(line)
	for i := p.col; i < len(line); i++ {
		if line[i] == '#' && i > p.col && isBlank(line[i-1]) {
			end = i
			break
		}
		if line[i] == ':' && (i+1 == len(line) || isBlank(line[i+1])) {
			return nil, p.errAt(p.row, i, "unexpected ': ' in a plain value; quote the value")
		}
	}
	n.Value = strings.TrimRight(line[p.col:end], " \t")
	if isYAMLNull(n.Value) {
		n.Kind, n.Value = YAMLNull, ""
	}
	p.nextLine()
	return n, nil
}

// isYAMLNull reports whether a plain scalar means null.
func isYAMLNull(s string) bool {
	return s == "~" || s == "null" || s == "Null" || s == "NULL"
}

// plainStartError says why s cannot start a plain scalar, or "" if it can.
// The refusals of anchors, aliases and tags live here, since each starts a
// node with its indicator.
func plainStartError(s string, flow bool) string {
	if s == "" {
		return "expected a value"
	}
	switch c := s[0]; c {
	case '&':
		return "anchors (&) are not supported"
	case '*':
		return "aliases (*) are not supported"
	case '!':
		return "tags (!) are not supported"
	case '%':
		return "a plain value cannot start with '%'; quote it"
	case '@', '`':
		return "a plain value cannot start with '" + string(c) + "' (reserved); quote it"
	case '|', '>':
		return "a block scalar (| or >) cannot be used here"
	case ',', '[', ']', '{', '}', '#', '"', '\'':
		return "unexpected '" + string(c) + "'"
	case '-', '?', ':':
		// A ':' cannot start a plain value in a flow collection: YAML 1.1
		// readers take it for a key indicator there.
		if len(s) == 1 || isBlank(s[1]) || (flow && (c == ':' || isFlowIndicator(s[1]))) {
			return "unexpected '" + string(c) + "'; quote the value"
		}
	}
	return ""
}
