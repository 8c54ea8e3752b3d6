package tls

import (
	"bytes"
	"context"
	"crypto/rand"
	ctls "crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func TestMain(m *testing.M) {
	// certmagic throttles orders to 10 per 10 s per CA and account, which
	// would make the 100-order test take 90 s. Tests only; set before any
	// rate limiter exists.
	certmagic.RateLimitEvents = 1000
	os.Exit(m.Run())
}

// testLogLevel is Warn unless APPRUN_TLS_TEST_LOG=debug.
func testLogLevel() slog.Level {
	if os.Getenv("APPRUN_TLS_TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// testLogs is a slog handler that writes to the test's output while the
// test runs (certmagic's goroutines outlive tests: later records are
// dropped, never written to a finished test) and keeps every record's text
// for assertions.
type testLogs struct {
	mu      sync.Mutex
	done    bool
	out     io.Writer
	lines   []string
	verbose bool // write Debug and Info records to the output too
}

func newTestLogs(t *testing.T) *testLogs {
	l := &testLogs{out: t.Output(), verbose: testLogLevel() == slog.LevelDebug}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	if !l.done && (l.verbose || !bytes.Contains(p, []byte("level=DEBUG")) && !bytes.Contains(p, []byte("level=INFO"))) {
		_, _ = l.out.Write(p)
	}
	return len(p), nil
}

func (l *testLogs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: testLogLevel()}))
}

// debugLogger keeps every record, Debug included; only Warn and above
// reach the test's output unless APPRUN_TLS_TEST_LOG=debug.
func (l *testLogs) debugLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// count returns how many records contain s.
func (l *testLogs) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func (l *testLogs) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// testDomain returns a domain unique to this test run: certmagic keeps
// process-global state per name (jobs, back-off, challenges).
func testDomain(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	label := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(label) > 40 {
		label = label[:40]
	}
	return hex.EncodeToString(b) + "." + strings.Trim(label, "-") + ".apprun.test"
}

// testRouter is the router's two listeners serving a Manager, bound before
// the Manager (and Pebble) learn their ports, as in production.
type testRouter struct {
	httpLn, httpsLn       net.Listener
	httpPort, httpsPort   int
	m                     *Manager
	challenges, redirects counter
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func listenRouter(t *testing.T) *testRouter {
	t.Helper()
	r := &testRouter{}
	var err error
	if r.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if r.httpsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	r.httpPort = r.httpLn.Addr().(*net.TCPAddr).Port
	r.httpsPort = r.httpsLn.Addr().(*net.TCPAddr).Port
	return r
}

// serve starts the HTTPS and HTTP servers on m; both stop at cleanup.
func (r *testRouter) serve(t *testing.T, m *Manager) {
	t.Helper()
	r.m = m
	quiet := log.New(io.Discard, "", 0)
	https := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.WriteString(w, "hello from "+req.Host)
		}),
		TLSConfig: m.TLSConfig(),
		ErrorLog:  quiet,
	}
	inner := m.HTTPHandler(r.httpsPort, nil)
	plain := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			inner.ServeHTTP(rec, req)
			if strings.HasPrefix(req.URL.Path, "/.well-known/acme-challenge/") && rec.status == http.StatusOK {
				r.challenges.add()
			} else if rec.status == http.StatusPermanentRedirect {
				r.redirects.add()
			}
		}),
		ErrorLog: quiet,
	}
	go func() { _ = https.ServeTLS(r.httpsLn, "", "") }()
	go func() { _ = plain.Serve(r.httpLn) }()
	t.Cleanup(func() {
		_ = https.Close()
		_ = plain.Close()
		m.Stop()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// handshake connects to addr with SNI name and returns the verified chain's
// leaf (verified against roots at the time of the handshake).
func handshake(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := ctls.DialWithDialer(d, "tcp", addr, &ctls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if len(st.VerifiedChains) == 0 {
		return nil, errors.New("no verified chain")
	}
	return st.PeerCertificates[0], nil
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIssued waits until every name has a certificate, per Status.
func waitIssued(t *testing.T, m *Manager, d time.Duration, names ...string) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("certificates for %d names", len(names)), func() bool {
		for _, s := range m.Status(names...) {
			if s.NotAfter.IsZero() {
				return false
			}
		}
		return true
	})
}

// allowSuffix is an Allowed func for the names under domain; it counts
// its calls.
type allowSuffix struct {
	domain string
	mu     sync.Mutex
	calls  int
}

func (a *allowSuffix) allowed(_ context.Context, name string) error {
	a.mu.Lock()
	a.calls++
	a.mu.Unlock()
	if strings.HasSuffix(name, "."+a.domain) {
		return nil
	}
	return fmt.Errorf("%s is not a name of this platform", name)
}

func (a *allowSuffix) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

func pemPool(t *testing.T, pemData []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemData) {
		t.Fatalf("no certificate in %q", pemData)
	}
	return p
}

func newFileStorage(dir string) *certmagic.FileStorage { return &certmagic.FileStorage{Path: dir} }
