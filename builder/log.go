package builder

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// tailLines is how many of the last log lines a failed build's error
// carries.
const tailLines = 20

// buildLog is the log of one build: everything written to it (pack's
// output, the Docker build stream, apprun's step lines) is cut into lines,
// cleaned of terminal escapes, masked, remembered for the error tail and
// passed on to the caller's writer.
type buildLog struct {
	mask *MaskWriter
	tail *tailWriter
}

func newBuildLog(w io.Writer, secrets []string) *buildLog {
	tail := &tailWriter{w: w}
	mask := NewMaskWriter(tail, secrets)
	mask.filter = cleanLine
	return &buildLog{mask: mask, tail: tail}
}

// Write takes build output in any chunks.
func (l *buildLog) Write(p []byte) (int, error) { return l.mask.Write(p) }

// Step writes an apprun step line ("-----> Building ...").
func (l *buildLog) Step(format string, args ...any) {
	_ = l.mask.Flush() // a step starts a line of its own
	fmt.Fprintf(l.mask, "-----> "+format+"\n", args...)
}

// Tail returns the last lines written, masked.
func (l *buildLog) Tail() []string {
	_ = l.mask.Flush()
	return l.tail.lines()
}

// Close flushes and stops the log: writes that arrive later (a container's
// output stream that outlives the build) are dropped.
func (l *buildLog) Close() { _ = l.mask.Close() }

// ansi matches terminal control sequences (colours, cursor moves) that
// pack and the lifecycle print when they think they talk to a terminal.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]`)

// packNoise are lines pack prints that say nothing to the app's owner.
var packNoise = []string{
	// pack warns on every build when it runs inside a container and
	// does not pull: apprun never pulls on purpose (no registry).
	"Warning: Detected pack is running in a container",
	// The lifecycle apprun builds carries no SBOM of itself; the
	// exporter says so six times on every build.
	"Warning: Did not find SBOM ",
}

// phasePrefix is how pack marks a lifecycle phase's output in the
// five-phase flow ("[exporter] ..."); the trusted flow's creator prints
// the same lines bare.
var phasePrefix = regexp.MustCompile(`^\[[a-z]+\] `)

// cleanLine strips terminal escapes and drops pack's noise.
func cleanLine(s string) (string, bool) {
	if strings.Contains(s, "\x1b") {
		s = ansi.ReplaceAllString(s, "")
	}
	bare := phasePrefix.ReplaceAllString(s, "")
	for _, n := range packNoise {
		if strings.HasPrefix(bare, n) {
			return "", false
		}
	}
	return s, true
}

// tailWriter passes lines on and keeps the last tailLines of them. A
// failing writer underneath (a client that went away) does not fail the
// build: it is no longer written to, and the tail is still kept.
type tailWriter struct {
	mu     sync.Mutex
	w      io.Writer
	broken bool
	ring   [tailLines]string
	n      int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ring[t.n%tailLines] = strings.TrimRight(string(p), "\r\n")
	t.n++
	if !t.broken && t.w != nil {
		if _, err := t.w.Write(p); err != nil {
			t.broken = true
		}
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := min(t.n, tailLines)
	out := make([]string, 0, k)
	for i := t.n - k; i < t.n; i++ {
		out = append(out, t.ring[i%tailLines])
	}
	return out
}
