package spec

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses quoted scalars and block scalars (| and >).

// unterminatedQuote is the message for a quoted scalar that does not close
// on its line. YAML allows quoted scalars to span lines; the subset does
// not, because a forgotten quote would otherwise swallow the rest of the
// file silently.
const unterminatedQuote = "unterminated quoted string (a quoted string must end on the line where it starts)"

// scanQuoted decodes the single- or double-quoted scalar at the start of s.
// It returns the value and the number of bytes it spans, or a message
// saying what is wrong.
func scanQuoted(s string) (value string, n int, msg string) {
	if s[0] == '\'' {
		return scanSingleQuoted(s)
	}
	return scanDoubleQuoted(s)
}

func scanSingleQuoted(s string) (string, int, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, ""
	}
	return "", 0, unterminatedQuote
}

// doubleQuoteEscapes are YAML's one-character escapes.
var doubleQuoteEscapes = map[byte]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n",
	'v': "\v", 'f': "\f", 'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"",
	'/': "/", '\\': "\\", 'N': "\u0085", '_': "\u00a0", 'L': "\u2028",
	'P': "\u2029",
}

func scanDoubleQuoted(s string) (string, int, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, ""
		case '\\':
			if i+1 == len(s) {
				return "", 0, unterminatedQuote
			}
			i++
			e := s[i]
			if r, ok := doubleQuoteEscapes[e]; ok {
				b.WriteString(r)
				continue
			}
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if digits == 0 {
				r, _ := utf8.DecodeRuneInString(s[i:])
				return "", 0, "invalid escape \\" + string(r) + " in a double-quoted string"
			}
			if i+digits >= len(s) {
				return "", 0, "escape \\" + string(e) + " needs " + strconv.Itoa(digits) + " hex digits"
			}
			code, err := strconv.ParseUint(s[i+1:i+1+digits], 16, 32)
			if err != nil {
				return "", 0, "escape \\" + string(e) + " needs " + strconv.Itoa(digits) + " hex digits"
			}
			if !utf8.ValidRune(rune(code)) {
				return "", 0, "escape \\" + s[i:i+1+digits] + " is not a valid Unicode character"
			}
			b.WriteRune(rune(code))
			i += digits
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, unterminatedQuote
}

// parseBlockScalar parses a literal (|) or folded (>) block scalar whose
// header is at the cursor, in a block whose parent is at indentation
// parent. Its content is the following lines indented more than parent.
func (p *yamlParser) parseBlockScalar(parent int) (*YAMLNode, error) {
	line := p.lines[p.row]
	n := p.node(YAMLScalar)
	n.Style = YAMLLiteral
	if line[p.col] == '>' {
		n.Style = YAMLFolded
	}
	var chomp byte
	explicit := 0
	i := p.col + 1
	for ; i < len(line); i++ {
		c := line[i]
		if (c == '-' || c == '+') && chomp == 0 {
			chomp = c
		} else if c >= '1' && c <= '9' && explicit == 0 {
			explicit = int(c - '0')
		} else {
			break
		}
	}
	p.col = i
	if err := p.finishLine("block scalar indicator"); err != nil {
		return nil, err
	}
	// Content at the left margin would be ambiguous with the next
	// top-level key; libyaml (and so most YAML readers) needs one space.
	parent = max(parent, 0)
	indent := parent + explicit
	if explicit == 0 {
		var err error
		if indent, err = p.detectBlockIndent(parent); err != nil {
			return nil, err
		}
	}
	var body []string
	for ; p.row < len(p.lines); p.row++ {
		l := p.lines[p.row]
		if isAnyDocMarker(l) {
			break
		}
		k := 0
		for k < len(l) && k < indent && l[k] == ' ' {
			k++
		}
		switch {
		case indent > parent && k == indent && len(l) > indent:
			body = append(body, l[indent:])
		case strings.TrimLeft(l, " \t") == "":
			body = append(body, "")
		default:
			p.col = 0
			n.Value = chompBlock(body, n.Style == YAMLFolded, chomp, false)
			return n, nil
		}
	}
	p.col = 0
	n.Value = chompBlock(body, n.Style == YAMLFolded, chomp, p.unterminated)
	return n, nil
}

// detectBlockIndent returns the indentation of a block scalar's content:
// that of its first line of text, or parent when it has none. Blank lines
// before that line must not be indented more than it is (YAML refuses
// them, since their extra spaces would be neither indentation nor text).
func (p *yamlParser) detectBlockIndent(parent int) (int, error) {
	widest, widestRow := 0, 0
	for r := p.row; r < len(p.lines); r++ {
		l := p.lines[r]
		if isAnyDocMarker(l) {
			break
		}
		k := 0
		for k < len(l) && l[k] == ' ' {
			k++
		}
		if strings.TrimLeft(l[k:], " \t") == "" {
			if k > widest {
				widest, widestRow = k, r
			}
			continue
		}
		if k > parent && widest > k {
			return 0, p.errAt(widestRow, 0, "a blank line at the start of a block scalar is indented more than its first line of text")
		}
		return k, nil
	}
	return parent, nil
}

// chompBlock joins the lines of a block scalar (folding them for >) and
// applies the chomping indicator: '-' strips the final line breaks, '+'
// keeps them all, and the default keeps one. When the scalar ends the input
// without a line break (noBreak), there is one line break fewer to keep.
func chompBlock(body []string, folded bool, chomp byte, noBreak bool) string {
	trailing := 0
	for len(body) > 0 && body[len(body)-1] == "" {
		body = body[:len(body)-1]
		trailing++
	}
	breaks := trailing + 1 // the line break of the last line of text, then the empty lines'
	if noBreak {
		breaks--
	}
	var text string
	switch {
	case len(body) == 0:
		if chomp == '+' {
			return strings.Repeat("\n", max(breaks-1, 0))
		}
		return ""
	case folded:
		text = foldLines(body)
	default:
		text = strings.Join(body, "\n")
	}
	switch chomp {
	case '-':
		return text
	case '+':
		return text + strings.Repeat("\n", breaks)
	}
	return text + strings.Repeat("\n", min(breaks, 1))
}

// foldLines applies YAML's folding to the lines of a > scalar: a single
// line break between two lines of text becomes a space, each empty line
// becomes a line break, and lines that start with a blank ("more
// indented") keep the line breaks around them.
func foldLines(body []string) string {
	var b strings.Builder
	breaks := 0
	started, prevMore := false, false
	for _, l := range body {
		if l == "" {
			breaks++
			continue
		}
		more := isBlank(l[0])
		switch {
		case !started:
			b.WriteString(strings.Repeat("\n", breaks))
		case !prevMore && !more && breaks == 0:
			b.WriteByte(' ')
		case !prevMore && !more:
			b.WriteString(strings.Repeat("\n", breaks))
		default:
			b.WriteString(strings.Repeat("\n", breaks+1))
		}
		b.WriteString(l)
		started, prevMore, breaks = true, more, 0
	}
	return b.String()
}
