package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// testEnv is a running API server over a real SQLite store in a temporary
// directory, with one valid token. There is no fake store: the API's
// promises (nothing changes on a failed request, secrets stay write-only)
// are only worth testing against the store that keeps them.
type testEnv struct {
	t     *testing.T
	st    *store.SQLite
	srv   *Server
	ts    *httptest.Server
	token string
	// logs receives everything the server logged, to check that no token
	// or secret value ever reaches the log.
	logs *lockedBuffer
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines to write
// while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()}, log.With("component", "store"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := New(cfg, st, log.With("component", "api"))
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	plain, _, err := st.CreateToken(ctx, "test")
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return &testEnv{t: t, st: st, srv: srv, ts: ts, token: plain, logs: logs}
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errBody decodes the error shape; it fails the test if the body is not one.
func (r response) errBody(t *testing.T) errorDetail {
	t.Helper()
	var b struct {
		Error *errorDetail `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error == nil {
		t.Fatalf("status %d: body is not the error shape (%v): %s", r.status, err, r.body)
	}
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error without code or message: %s", r.body)
	}
	return *b.Error
}

// decode unmarshals the body into v, failing the test on error.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// noAuth and wrongToken are values of the token argument of do.
const (
	noAuth     = "-"
	wrongToken = "apprun_definitely_not_a_real_token"
)

// do sends a request with the env's token (or token, when not ""). body is
// sent as is when it is a string or []byte, as JSON otherwise, and not at
// all when nil; a []byte body is labelled application/octet-stream, every
// other body application/json.
func (e *testEnv) do(method, path string, body any, token ...string) response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	switch body.(type) {
	case nil:
	case []byte:
		// Raw bytes stand for an upload (a source archive).
		req.Header.Set("Content-Type", "application/octet-stream")
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	tok := e.token
	if len(token) > 0 {
		tok = token[0]
	}
	if tok != noAuth {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// must sends a request and fails the test unless the status is want.
func (e *testEnv) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// snapshot is everything the API can change, read straight from the store
// (not through the API, whose own requests would touch tokens). Token
// lastUsedAt is left out: every authenticated request moves it.
type snapshot struct {
	Services []spec.Service
	Secrets  map[string]map[string]string
	Networks []spec.Network
	Domains  []spec.Domain
	Tokens   []string
}

func (e *testEnv) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	var s snapshot
	var err error
	if s.Services, err = e.st.ListServices(ctx); err != nil {
		e.t.Fatal(err)
	}
	s.Secrets = map[string]map[string]string{}
	for _, svc := range s.Services {
		if s.Secrets[svc.Name], err = e.st.ServiceSecrets(ctx, svc.Name); err != nil {
			e.t.Fatal(err)
		}
	}
	if s.Networks, err = e.st.ListNetworks(ctx); err != nil {
		e.t.Fatal(err)
	}
	if s.Domains, err = e.st.ListDomains(ctx, ""); err != nil {
		e.t.Fatal(err)
	}
	toks, err := e.st.ListTokens(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tok := range toks {
		s.Tokens = append(s.Tokens, tok.ID+" "+tok.Name)
	}
	slices.Sort(s.Tokens)
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// concretePath fills a route template's parameters with values.
func concretePath(template string, params map[string]string) string {
	parts := strings.Split(template, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			v, ok := params[name]
			if !ok {
				v = "x"
			}
			parts[i] = v
		}
	}
	return strings.Join(parts, "/")
}
