package spec

import "strings"

// This file parses flow collections: [a, "b"] and {a: 1}. They may nest and
// span lines; plain scalars inside them end at the end of a line.

// isFlowIndicator reports whether c delimits flow collections.
func isFlowIndicator(c byte) bool { return strings.IndexByte(",[]{}", c) >= 0 }

// parseFlowNode parses the flow node at the cursor.
func (p *yamlParser) parseFlowNode(parent int) (*YAMLNode, error) {
	line := p.lines[p.row]
	switch line[p.col] {
	case '[':
		return p.parseFlowSequence(parent)
	case '{':
		return p.parseFlowMapping(parent)
	}
	n, err := p.parseFlowScalar()
	if err != nil {
		return nil, err
	}
	if n.Style == YAMLPlain && isYAMLNull(n.Value) {
		n.Kind, n.Value = YAMLNull, ""
	}
	return n, nil
}

// parseFlowScalar parses a quoted or plain scalar in a flow collection. A
// plain scalar ends at a flow indicator, a ": ", a comment or the end of the
// line.
func (p *yamlParser) parseFlowScalar() (*YAMLNode, error) {
	line := p.lines[p.row]
	n := p.node(YAMLScalar)
	if c := line[p.col]; c == '"' || c == '\'' {
		value, size, msg := scanQuoted(line[p.col:])
		if msg != "" {
			return nil, p.errHere("%s", msg)
		}
		n.Value = value
		n.Style = YAMLDoubleQuoted
		if c == '\'' {
			n.Style = YAMLSingleQuoted
		}
		p.col += size
		return n, nil
	}
	if msg := plainStartError(line[p.col:], true); msg != "" {
		return nil, p.errHere("%s", msg)
	}
	end := p.col
	for ; end < len(line); end++ {
		c := line[end]
		if isFlowIndicator(c) ||
			(c == ':' && (end+1 == len(line) || isBlank(line[end+1]) || isFlowIndicator(line[end+1]))) ||
			(c == '#' && end > p.col && isBlank(line[end-1])) {
			break
		}
	}
	n.Value = strings.TrimRight(line[p.col:end], " \t")
	p.col = end
	return n, nil
}

// skipFlowSpace moves the cursor past blanks, comments and line breaks
// inside the flow collection open, which ends with the byte closer and sits
// in a block at indentation parent. A line that is not indented past parent
// (other than a closing bracket) means the collection was never closed.
func (p *yamlParser) skipFlowSpace(open *YAMLNode, closer byte, parent int) error {
	for {
		line := p.lines[p.row]
		for p.col < len(line) && isBlank(line[p.col]) {
			p.col++
		}
		if p.col < len(line) && (line[p.col] != '#' || (p.col > 0 && !isBlank(line[p.col-1]))) {
			return nil
		}
		p.nextLine()
		if p.row >= len(p.lines) || isAnyDocMarker(p.lines[p.row]) {
			return errNode(open, "unterminated flow collection: no closing '%c'", closer)
		}
		l := p.lines[p.row]
		i := 0
		for i < len(l) && l[i] == ' ' {
			i++
		}
		if onlyComment(l[i:]) {
			continue
		}
		if l[i] == '\t' {
			return p.errAt(p.row, i, "tab character used for indentation; indent with spaces")
		}
		if i <= parent && l[i] != ']' && l[i] != '}' {
			return errNode(open, "unterminated flow collection: no closing '%c' before line %d (lines inside a flow collection must be indented past the block that holds it)", closer, p.row+1)
		}
	}
}

// parseFlowSequence parses [a, b, ...] at the cursor.
func (p *yamlParser) parseFlowSequence(parent int) (*YAMLNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	s := p.node(YAMLSequence)
	p.col++
	for {
		if err := p.skipFlowSpace(s, ']', parent); err != nil {
			return nil, err
		}
		if p.lines[p.row][p.col] == ']' {
			p.col++
			return s, nil
		}
		item, err := p.parseFlowNode(parent)
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, item)
		if err := p.skipFlowSpace(s, ']', parent); err != nil {
			return nil, err
		}
		switch p.lines[p.row][p.col] {
		case ',':
			p.col++
		case ']':
			p.col++
			return s, nil
		case ':':
			return nil, p.errHere("a key: value pair inside a flow sequence is not supported; write it as {key: value}")
		default:
			return nil, p.errHere("expected ',' or ']' in the flow sequence")
		}
	}
}

// parseFlowMapping parses {a: 1, b: 2, ...} at the cursor.
func (p *yamlParser) parseFlowMapping(parent int) (*YAMLNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	m := p.node(YAMLMapping)
	seen := map[string]int{}
	p.col++
	for {
		if err := p.skipFlowSpace(m, '}', parent); err != nil {
			return nil, err
		}
		rest := p.lines[p.row][p.col:]
		switch {
		case rest[0] == '}':
			p.col++
			return m, nil
		case rest[0] == '[' || rest[0] == '{':
			return nil, p.errHere("a mapping key must be a string, not a flow collection")
		case rest[0] == '?' && (len(rest) == 1 || isBlank(rest[1])):
			return nil, p.errHere("complex mapping keys (?) are not supported")
		}
		key, err := p.parseFlowScalar()
		if err != nil {
			return nil, err
		}
		if key.Style == YAMLPlain && key.Value == "<<" {
			return nil, errNode(key, "merge keys (<<) are not supported")
		}
		if key.Style == YAMLPlain && isYAMLNull(key.Value) {
			return nil, errNode(key, "a mapping key must not be null; quote it")
		}
		if line, dup := seen[key.Value]; dup {
			return nil, errNode(key, "duplicate key %q (first on line %d)", key.Value, line)
		}
		seen[key.Value] = key.Line
		if err := p.skipFlowSpace(m, '}', parent); err != nil {
			return nil, err
		}
		value := p.node(YAMLNull)
		if p.lines[p.row][p.col] == ':' && p.row+1 != key.Line {
			return nil, p.errHere("the ':' must be on the same line as its key")
		}
		if p.lines[p.row][p.col] == ':' {
			p.col++
			if err := p.skipFlowSpace(m, '}', parent); err != nil {
				return nil, err
			}
			if c := p.lines[p.row][p.col]; c != ',' && c != '}' {
				if value, err = p.parseFlowNode(parent); err != nil {
					return nil, err
				}
			}
		}
		m.Pairs = append(m.Pairs, YAMLPair{Key: key, Value: value})
		if err := p.skipFlowSpace(m, '}', parent); err != nil {
			return nil, err
		}
		switch p.lines[p.row][p.col] {
		case ',':
			p.col++
		case '}':
			p.col++
			return m, nil
		default:
			return nil, p.errHere("expected ',' or '}' in the flow mapping")
		}
	}
}
