package harness

// This file starts and stops `apprun serve`: the one piece every
// end-to-end benchmark needs and that is easy to get subtly wrong (reading
// the addresses the server really bound, the token it prints once, and
// stopping it in order on Ctrl-C).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say how to start the server.
type Options struct {
	// Work is the run's temporary directory; the data directory, HOME and,
	// when Bin is empty, the binary go in it. Required.
	Work string
	// Bin is the apprun binary; empty builds ./cmd/apprun into Work.
	Bin string
	// Network is the bridge network the server deploys instances to
	// (APPRUN_DEPLOY_NETWORK); empty leaves apprun's default.
	Network string
	// Progress receives a line before the build of the binary; nil for
	// none.
	Progress io.Writer
}

// Server is a running `apprun serve`. Its API, router and git SSH server
// listen on free ports of 127.0.0.1.
type Server struct {
	Bin          string // the binary that runs
	API          string // "http://127.0.0.1:PORT"
	Router       string // "http://127.0.0.1:PORT"
	HTTPS        string // "https://127.0.0.1:PORT", or "" without TLS
	GitSSH       string // "127.0.0.1:PORT", or "" without SSH
	Token        string // the admin token printed on first start
	Installation string // the installation ID its containers are labelled with
	DataDir      string
	Home         string // HOME of the server, and free for the benchmark's own commands

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	client *http.Client

	mu    sync.Mutex
	lines []string // the last lines of its stderr (its log)
}

// startTimeout bounds the wait for the serving line: a cold start
// migrates the store and binds the listeners, which takes well under it.
const startTimeout = 60 * time.Second

// Start builds the binary if need be and starts `apprun serve`, and
// returns once it serves and has printed its token. If it fails after the
// process started, it stops the process and the error carries the last
// lines of its log.
func Start(ctx context.Context, o Options) (*Server, error) {
	s := &Server{
		Bin:     o.Bin,
		DataDir: filepath.Join(o.Work, "data"),
		Home:    filepath.Join(o.Work, "home"),
		client:  &http.Client{},
	}
	if s.Bin == "" {
		s.Bin = filepath.Join(o.Work, "apprun")
		if o.Progress != nil {
			fmt.Fprintln(o.Progress, "building apprun ...")
		}
		out, err := exec.CommandContext(ctx, "go", "build", "-o", s.Bin, "github.com/apprun/apprun/cmd/apprun").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("building apprun: %v\n%s", err, out)
		}
	}
	if err := os.MkdirAll(s.Home, 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Bin, "serve", "--data-dir", s.DataDir, "--api-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--save-cli-login=false")
	// The log format is pinned because the serving line is parsed; the
	// git SSH server takes a free port, like the API and the router, so
	// that a benchmark never collides with a server on the default one.
	cmd.Env = append(os.Environ(), "HOME="+s.Home, "APPRUN_CONFIG=", "APPRUN_BUILD_BOOTSTRAP=false",
		"APPRUN_LOG_FORMAT=text", "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	if o.Network != "" {
		cmd.Env = append(cmd.Env, "APPRUN_DEPLOY_NETWORK="+o.Network)
	}
	// Its own process group, so Ctrl-C reaches only the benchmark, which
	// stops the server in order; and SIGTERM if the benchmark dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stdout syncBuffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting apprun serve: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	serving := make(chan servingLine, 1)
	go s.readLog(stderr, serving)
	if err := s.await(ctx, serving, &stdout); err != nil {
		_ = s.Stop()
		if tail := s.Tail(20); tail != "" {
			err = fmt.Errorf("%w; last lines of its log:\n%s", err, tail)
		}
		return nil, err
	}
	return s, nil
}

// readLog keeps the last lines of the server's log and hands the first
// serving line to serving; it closes s.done when the process has exited.
func (s *Server) readLog(stderr io.Reader, serving chan<- servingLine) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.mu.Lock()
		s.lines = append(s.lines, sc.Text())
		if len(s.lines) > 400 {
			s.lines = slices.Delete(s.lines, 0, 200)
		}
		s.mu.Unlock()
		if l, ok := parseServing(sc.Text()); ok {
			select {
			case serving <- l:
			default:
			}
		}
	}
	_ = s.cmd.Wait()
	close(s.done)
}

// await waits for the serving line, then the token on stdout, then reads
// the installation ID the server wrote into its data directory.
func (s *Server) await(ctx context.Context, serving <-chan servingLine, stdout *syncBuffer) error {
	select {
	case l := <-serving:
		s.API, s.Router, s.HTTPS, s.GitSSH = l.api, l.router, l.https, l.gitSSH
	case <-s.done:
		return errors.New("apprun serve exited before serving")
	case <-time.After(startTimeout):
		return fmt.Errorf("apprun serve did not start within %v", startTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	// The token is printed before the serving line, so it is there by now
	// but for the pipe; the deadline only guards a server that no longer
	// prints one.
	for deadline := time.Now().Add(10 * time.Second); s.Token == ""; {
		if tok, ok := parseToken(stdout.String()); ok {
			s.Token = tok
		} else if time.Now().After(deadline) {
			return fmt.Errorf("apprun serve printed no admin token; stdout:\n%s", stdout.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	id, err := os.ReadFile(filepath.Join(s.DataDir, "installation-id"))
	if err != nil {
		return fmt.Errorf("reading the installation ID: %w", err)
	}
	s.Installation = strings.TrimSpace(string(id))
	return nil
}

// stopTimeout is how long Stop waits after SIGTERM: the server drains
// in-flight requests and builds first.
const stopTimeout = 45 * time.Second

// Stop sends SIGTERM and waits for the server to exit; past stopTimeout it
// kills it and says so. It is safe on a nil Server.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("apprun serve did not stop within %v of SIGTERM; killed it", stopTimeout)
	}
}

// Tail is the last n lines of the server's log ("" on a nil Server), for
// an error report.
func (s *Server) Tail(n int) string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// servingLine is what the benchmarks need of the server's
// "apprun is serving" log line.
type servingLine struct{ api, router, https, gitSSH string }

// logField is one key=value of slog's text format; a value with spaces,
// quotes or nothing in it is quoted (https="" without TLS).
var logField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// parseServing reads the addresses from the serving line, e.g.
//
//	time=... level=INFO msg="apprun is serving" api=http://127.0.0.1:4001 router=http://127.0.0.1:4002 https="" apps_domain=localhost git_ssh=127.0.0.1:4003 ...
//
// by key, so fields added to the line later do not break it.
func parseServing(line string) (servingLine, bool) {
	if !strings.Contains(line, `msg="apprun is serving"`) {
		return servingLine{}, false
	}
	var l servingLine
	for _, m := range logField.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				continue
			}
			v = u
		}
		switch m[1] {
		case "api":
			l.api = v
		case "router":
			l.router = v
		case "https":
			l.https = v
		case "git_ssh":
			l.gitSSH = v
		}
	}
	if !strings.HasPrefix(l.api, "http://") || !strings.HasPrefix(l.router, "http://") {
		return servingLine{}, false
	}
	return l, true
}

// tokenRE is the indented line on which the first start prints the admin
// token.
var tokenRE = regexp.MustCompile(`(?m)^\s+(apprun_\S+)$`)

func parseToken(stdout string) (string, bool) {
	m := tokenRE.FindStringSubmatch(stdout)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader: the
// process writes stdout while Start reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
