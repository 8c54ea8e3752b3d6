package builder

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Mask replaces a secret in build logs.
const Mask = "****"

// minSecretLen is the shortest secret that is masked: shorter values (a
// "1", "yes") would mask ordinary words all over the log while protecting
// nothing.
const minSecretLen = 4

// maxLineLen bounds the bytes a MaskWriter holds while waiting for a
// newline, so a build that prints without newlines cannot grow memory
// without limit; a longer line is cut in two (never inside a secret).
const maxLineLen = 64 << 10

// MaskWriter passes what is written to it on to w one line at a time (one
// Write per line, newline included) with every secret replaced by Mask.
// It holds back an unfinished line until its newline arrives, so a secret
// split across writes is still masked; Flush writes what remains at the
// end. It is safe for concurrent use, and writes after Close are dropped,
// which keeps a build's late output (a container's log stream that ends
// after the build returned) from reaching a caller that has moved on.
//
// Each secret longer than three bytes is masked as it is, in standard and
// URL-safe base64 (padded and raw), and URL-escaped. A secret that spans
// lines (a PEM key) is masked line by line.
type MaskWriter struct {
	mu       sync.Mutex
	w        io.Writer
	patterns []string // longest first, so an encoded form wins over a part of it
	longest  int
	buf      []byte
	closed   bool
	err      error
	// filter, when set, rewrites each line before it is masked (so a
	// terminal escape sequence inside a secret cannot hide it) or drops it.
	filter func(line string) (string, bool)
}

// NewMaskWriter returns a MaskWriter writing to w that masks secrets.
func NewMaskWriter(w io.Writer, secrets []string) *MaskWriter {
	set := map[string]bool{}
	for _, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			line = strings.TrimSuffix(line, "\r")
			for _, form := range secretForms(line) {
				if maskable(form) {
					set[form] = true
				}
			}
		}
	}
	m := &MaskWriter{w: w}
	for p := range set {
		m.patterns = append(m.patterns, p)
		m.longest = max(m.longest, len(p))
	}
	slices.SortFunc(m.patterns, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return m
}

// secretForms are the spellings of a secret that commonly reach a log: a
// tool that prints an Authorization header shows base64, a URL shows the
// escaped form.
func secretForms(s string) []string {
	b := []byte(s)
	return []string{
		s,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(s),
		url.PathEscape(s),
	}
}

// maskable reports whether a form is worth masking. A value made only of
// the mask's own character is left alone: replacing it could never end.
func maskable(s string) bool {
	return len(s) >= minSecretLen && strings.Trim(s, "*") != ""
}

// Write buffers p and writes every completed line, masked.
func (m *MaskWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return len(p), nil
	}
	if m.err != nil {
		return 0, m.err
	}
	m.buf = append(m.buf, p...)
	for {
		i := bytes.IndexByte(m.buf, '\n')
		if i < 0 {
			break
		}
		m.emit(m.buf[:i+1])
		m.buf = m.buf[i+1:]
	}
	for len(m.buf) > maxLineLen {
		cut := m.safeCut()
		line := append(slices.Clip(m.buf[:cut]), '\n')
		m.emit(line)
		m.buf = m.buf[cut:]
	}
	if len(m.buf) == 0 {
		m.buf = nil // let a long line's array go
	}
	if m.err != nil {
		return 0, m.err
	}
	return len(p), nil
}

// safeCut picks where to split an overlong line: far enough back that a
// secret still arriving fits in what is kept, and before any secret that
// would straddle the cut.
func (m *MaskWriter) safeCut() int {
	cut := len(m.buf) - max(m.longest-1, 0)
	for moved := true; moved; {
		moved = false
		for _, p := range m.patterns {
			from := max(cut-len(p)+1, 0)
			if i := bytes.Index(m.buf[from:], []byte(p)); i >= 0 && from+i < cut && from+i+len(p) > cut {
				cut, moved = from+i, true
			}
		}
	}
	if cut == 0 {
		// The buffer starts with a secret that reaches past the cut:
		// the secret is whole in the buffer, so masking all of it is
		// safe.
		return len(m.buf)
	}
	return cut
}

// Flush writes the unfinished line, if any, masked and with a newline.
func (m *MaskWriter) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	if len(m.buf) > 0 && m.err == nil {
		m.emit(append(m.buf, '\n'))
	}
	m.buf = nil
	return m.err
}

// Close flushes and then drops every later write. It does not close the
// writer underneath, which belongs to the caller.
func (m *MaskWriter) Close() error {
	err := m.Flush()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return err
}

// emit writes one line, masked. The first write error is kept and
// returned from then on.
func (m *MaskWriter) emit(line []byte) {
	if m.err != nil {
		return
	}
	s := string(line)
	if m.filter != nil {
		var keep bool
		if s, keep = m.filter(s); !keep {
			return
		}
	}
	if _, err := m.w.Write([]byte(m.mask(s))); err != nil {
		m.err = err
	}
}

// mask replaces every secret in s. It repeats until no secret is left,
// because a replacement can complete another secret ("x" followed by a
// masked value reads "x****"); each round either shortens s or turns a
// non-'*' byte into '*', so it ends.
func (m *MaskWriter) mask(s string) string {
	for changed := true; changed; {
		changed = false
		for _, p := range m.patterns {
			if strings.Contains(s, p) {
				s = strings.ReplaceAll(s, p, Mask)
				changed = true
			}
		}
	}
	return s
}
