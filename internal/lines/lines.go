// Package lines turns a stream of bytes (a build's output, an instance's
// log, a child process's stderr) into whole lines, for everything in
// apprun that shows, logs or forwards output line by line.
package lines

import (
	"bytes"
	"sync"
)

// MaxLine bounds a line: a longer one is passed on in pieces of this size
// rather than held in memory until its end, which may never come.
const MaxLine = 64 << 10

// Writer calls Emit once per line written to it, without the line's "\n"
// (nor a "\r" before it). It is safe for concurrent writers, as a
// process's stdout and stderr may be. An error from Emit is returned by
// Write, which stops a copy into it.
type Writer struct {
	Emit func(line string) error

	mu  sync.Mutex
	buf []byte
}

// New returns a Writer whose emit cannot fail.
func New(emit func(line string)) *Writer {
	return &Writer{Emit: func(l string) error { emit(l); return nil }}
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		var line []byte
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 && i <= MaxLine {
			line, w.buf = bytes.TrimSuffix(w.buf[:i], []byte("\r")), w.buf[i+1:]
		} else if len(w.buf) >= MaxLine {
			line, w.buf = w.buf[:MaxLine], w.buf[MaxLine:]
		} else {
			break
		}
		if err := w.Emit(string(line)); err != nil {
			return 0, err
		}
	}
	// Keep the unfinished line in a buffer of its own, so the next append
	// does not grow the old one for ever.
	w.buf = append([]byte(nil), w.buf...)
	return len(p), nil
}

// Flush emits an unfinished last line, if any.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	line := string(w.buf)
	w.buf = nil
	return w.Emit(line)
}
