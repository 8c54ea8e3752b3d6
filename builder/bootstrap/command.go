package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apprun/apprun/internal/lines"
)

// commandError is a command that failed, with the end of its output, so
// that the error says why without a trip to the logs.
type commandError struct {
	name string
	code int // -1 when the command did not exit by itself
	err  error
	tail string
}

func (e *commandError) Error() string {
	var b strings.Builder
	if e.code >= 0 {
		fmt.Fprintf(&b, "%s exited %d", e.name, e.code)
	} else {
		fmt.Fprintf(&b, "%s: %v", e.name, e.err)
	}
	if e.tail != "" {
		b.WriteString(": ")
		b.WriteString(e.tail)
	}
	return b.String()
}

func (e *commandError) Unwrap() error { return e.err }

// command is one program to run: argv only, never a shell.
type command struct {
	argv []string
	dir  string
	env  []string // added to (and overriding) the environment
}

// runCommand runs c, logging its output at debug level and keeping its end
// for the error. On cancellation the command gets SIGTERM and a grace period
// before SIGKILL: mmdebstrap unmounts what it mounted in its chroot only when
// it is allowed to exit by itself.
func runCommand(ctx context.Context, log *slog.Logger, c command) (string, error) {
	name := filepath.Base(c.argv[0])
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = mergeEnv(os.Environ(), c.env)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout bytes.Buffer
	out := newLineLogger(log, name, 2048)
	cmd.Stdout = &stdout
	cmd.Stderr = out
	log.Debug("running", "argv", c.argv, "dir", c.dir, "env", c.env)
	start := time.Now()
	err := cmd.Run()
	out.flush()
	log.Debug("ran", "command", name, "elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	if err != nil {
		ce := &commandError{name: name, code: -1, err: err, tail: out.tail.String()}
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Exited() && ctx.Err() == nil {
			ce.code = exit.ExitCode()
		}
		if ctx.Err() != nil {
			ce.err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		if ce.tail == "" {
			ce.tail = lastLines(stdout.String(), 2048)
		}
		return stdout.String(), ce
	}
	return stdout.String(), nil
}

// mergeEnv returns base with the entries of extra, which win.
func mergeEnv(base, extra []string) []string {
	override := map[string]bool{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		override[k] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !override[k] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// tail keeps the last max bytes written to it, cut at a line boundary.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLines(string(t.buf), t.max)
}

// lastLines returns the end of s, at most max bytes, starting at a line.
func lastLines(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…" + s
}

// lineLogger logs a command's output line by line at debug level and keeps
// its tail.
type lineLogger struct {
	tail  *tail
	lines *lines.Writer
}

func newLineLogger(log *slog.Logger, name string, tailBytes int) *lineLogger {
	return &lineLogger{tail: newTail(tailBytes), lines: lines.New(func(line string) {
		log.Debug(line, "command", name)
	})}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.tail.Write(p)
	return l.lines.Write(p)
}

func (l *lineLogger) flush() { _ = l.lines.Flush() }
