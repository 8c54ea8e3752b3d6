package source

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// hookRequest is what the pre-receive hook sends the server: who it runs
// for, git's quarantine (the pushed objects, not yet in the repository)
// and the ref updates.
type hookRequest struct {
	Token      string   `json:"token"`
	Service    string   `json:"service"`
	ServiceID  string   `json:"serviceId"`
	Dir        string   `json:"dir"`
	ObjectDir  string   `json:"objectDir"`
	AltDirs    string   `json:"altDirs"`
	Quarantine string   `json:"quarantine"`
	Updates    []string `json:"updates"`
}

// hookFrame is one line the server sends back: output to print, or the
// exit code (the last frame).
type hookFrame struct {
	Out  string `json:"out,omitempty"`
	Exit *int   `json:"exit,omitempty"`
}

// maxHookRequest bounds a hook's request (10,000 ref updates fit).
const maxHookRequest = 4 << 20

// IsHook reports whether the process was started as git's pre-receive hook
// (argv[0] is the hooks directory's symlink to apprun).
func IsHook(arg0 string) bool {
	return strings.HasSuffix(filepath.ToSlash(arg0), "hooks/pre-receive")
}

// RunHook is the pre-receive hook: it forwards the ref updates on stdin to
// the server named in the environment, prints what the server streams
// back (git relays it to the pusher as "remote:" lines), and returns the
// exit code the server decided: 0 accepts the push, anything else rejects
// it.
func RunHook(ctx context.Context, stdin io.Reader, stdout io.Writer, getenv func(string) string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stdout, "apprun: "+format+"\n", args...)
		return 1
	}
	data, err := io.ReadAll(io.LimitReader(stdin, maxHookRequest))
	if err != nil {
		return fail("reading the ref updates: %v", err)
	}
	dir, _ := os.Getwd()
	req := hookRequest{
		Token:      getenv(envToken),
		Service:    getenv(envService),
		ServiceID:  getenv(envServiceID),
		Dir:        dir,
		ObjectDir:  getenv("GIT_OBJECT_DIRECTORY"),
		AltDirs:    getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES"),
		Quarantine: getenv("GIT_QUARANTINE_PATH"),
	}
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if l != "" {
			req.Updates = append(req.Updates, l)
		}
	}
	sock := getenv(envSocket)
	if sock == "" || req.Token == "" {
		return fail("this hook runs only under apprun serve")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fail("reaching the apprun server: %v", err)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fail("talking to the apprun server: %v", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var f hookFrame
			if jerr := json.Unmarshal(line, &f); jerr != nil {
				return fail("the server sent something unexpected: %v", jerr)
			}
			if f.Out != "" {
				io.WriteString(stdout, f.Out)
			}
			if f.Exit != nil {
				return *f.Exit
			}
		}
		if err != nil {
			return fail("the apprun server closed the connection before the deployment ended")
		}
	}
}

// listenHook binds the hook socket in a directory only this user reaches.
func (s *Server) listenHook() (net.Listener, error) {
	path := s.socketPath()
	if len(path) >= 108 {
		return nil, fmt.Errorf("hook socket %s: a unix socket's path must be under 108 bytes; use a shorter data directory", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("making the hook socket directory: %w", err)
	}
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// A socket a previous run left behind.
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("hook socket: %w", err)
	}
	return ln, nil
}

func (s *Server) serveHooks(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("hook socket", "err", err)
			}
			return
		}
		wg.Go(func() {
			defer conn.Close()
			s.handleHook(ctx, conn)
		})
	}
}

// frameWriter sends what is written as output frames, one per write.
type frameWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	if f.err = f.enc.Encode(hookFrame{Out: string(p)}); f.err != nil {
		return 0, f.err
	}
	return len(p), nil
}

func (f *frameWriter) exit(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = f.enc.Encode(hookFrame{Exit: &code})
	}
}

// handleHook serves one pre-receive hook: checks who it is, then runs the
// push (see push) and sends its exit code.
func (s *Server) handleHook(ctx context.Context, conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(conn, maxHookRequest), 64<<10).ReadBytes('\n')
	if err != nil {
		s.log.Warn("hook: reading the request", "err", err)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	out := &frameWriter{enc: json.NewEncoder(conn)}
	var req hookRequest
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(out, "apprun: bad hook request: %v\n", err)
		out.exit(1)
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.token)) != 1 {
		s.log.Warn("hook: wrong token")
		fmt.Fprintln(out, "apprun: this hook was not started by this apprun server")
		out.exit(1)
		return
	}
	// The pusher hanging up ends the hook's connection: the build stops.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		cancel()
	}()
	code := s.push(ctx, req, out)
	out.exit(code)
}
