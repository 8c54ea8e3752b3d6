package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend serves each connection with handle, which reads requests
// from br and writes whatever it likes to c: a backend that misbehaves on
// purpose. n is the connection's number, from 1.
func rawBackend(t *testing.T, handle func(n int, c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(n, c, bufio.NewReader(c))
			})
		}
	})
	return ln.Addr().String()
}

// readReq reads one request and its body from br.
func readReq(br *bufio.Reader) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(req.Body)
	return req, b, err
}

// idleConns returns how many idle connections the fast path keeps to addr.
func idleConns(r *Router, addr string) int {
	r.mu.Lock()
	in := r.instances[addr]
	r.mu.Unlock()
	if in == nil || in.pool.Load() == nil {
		return 0
	}
	p := in.pool.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// client returns an HTTP client for a router served at addr, sending every
// request to host.
func clientFor(t *testing.T) *http.Client {
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func get(t *testing.T, c *http.Client, method, addr, host string, body io.Reader) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+"/", body)
	req.Host = host
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

func TestFastPathReusesConnections(t *testing.T) {
	r := newTestRouter(t, Config{})
	var conns atomic.Int64
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		conns.Add(1)
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	publish(t, r, oneRevision("web", addr))
	for i := range 20 {
		if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 20 requests in a row, want 1", n)
	}
	if n := idleConns(r, addr); n != 1 {
		t.Errorf("%d idle connections, want 1", n)
	}
}

// A connection the instance closes while the request is on it, with
// nothing sent back: an idempotent request without a body is retried on a
// fresh connection, a request with a body is not.
func TestFastPathStaleConnectionRetry(t *testing.T) {
	r := newTestRouter(t, Config{})
	var seen atomic.Int64
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		// Answer the first request on each connection; read the second
		// and close without a word, as a server whose idle timeout
		// fired just as the request came.
		if _, _, err := readReq(br); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n%10)
		if _, _, err := readReq(br); err == nil {
			seen.Add(1)
		}
	})
	publish(t, r, oneRevision("web", addr))
	if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != "1" {
		t.Fatalf("first: %d %q", code, body)
	}
	// Conn 1 is pooled; the GET goes to it, is dropped, and is retried on
	// conn 2.
	if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != "2" {
		t.Fatalf("GET on a stale connection: %d %q, want a retry answered by connection 2", code, body)
	}
	// Conn 2 is pooled; a POST with a body is dropped and not retried.
	code, _, body := do(t, r, "POST", "web.localhost", "/", strings.NewReader("data"), nil)
	if code != 502 {
		t.Fatalf("POST on a stale connection: %d %q, want 502 (a body is never replayed)", code, body)
	}
	if n := seen.Load(); n != 2 {
		t.Errorf("instance saw %d second requests, want 2", n)
	}
	// A POST without a body is not idempotent: written once, not retried.
	do(t, r, "GET", "web.localhost", "/", nil, nil) // conn 3 answers, pooled
	if code, _, _ := do(t, r, "POST", "web.localhost", "/", nil, nil); code != 502 {
		t.Errorf("bodiless POST on a stale connection: %d, want 502", code)
	}
}

// An instance that writes to an idle connection (a 408 before closing it)
// must not have that read as the answer to the next request.
func TestFastPathUnsolicitedResponseIsNotTakenForTheNext(t *testing.T) {
	r := newTestRouter(t, Config{})
	sent := make(chan struct{}, 4)
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readReq(br); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n)
			if n == 1 {
				io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				sent <- struct{}{}
				return
			}
		}
	})
	publish(t, r, oneRevision("web", addr))
	if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != "1" {
		t.Fatalf("first: %d %q", code, body)
	}
	<-sent
	time.Sleep(20 * time.Millisecond)
	if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != "2" {
		t.Fatalf("second: %d %q, want 200 from a new connection", code, body)
	}
}

func TestFastPathChunkedBothWays(t *testing.T) {
	r := newTestRouter(t, Config{})
	var gotTE atomic.Value
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		gotTE.Store(fmt.Sprint(req.TransferEncoding, req.ContentLength))
		// Echo in pieces, flushed: a chunked response.
		b, _ := io.ReadAll(req.Body)
		for len(b) > 0 {
			n := min(len(b), 100)
			w.Write(b[:n])
			w.(http.Flusher).Flush()
			b = b[n:]
		}
	}))))
	addr := serveRouter(t, r)
	pr, pw := io.Pipe()
	go func() {
		for i := range 50 {
			fmt.Fprintf(pw, "piece %d;", i)
		}
		pw.Close()
	}()
	res, body, err := get(t, clientFor(t), "POST", addr, "web.localhost", pr)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for i := range 50 {
		want += fmt.Sprintf("piece %d;", i)
	}
	if body != want {
		t.Errorf("echo = %q", body)
	}
	if te := gotTE.Load(); te != "[chunked] -1" {
		t.Errorf("app saw %v, want a chunked body", te)
	}
	if len(res.TransferEncoding) != 1 || res.TransferEncoding[0] != "chunked" {
		t.Errorf("client saw transfer encoding %v, want chunked", res.TransferEncoding)
	}
}

func TestFastPathLargeBodiesBothWays(t *testing.T) {
	r := newTestRouter(t, Config{DefaultBodyLimit: 64 << 20})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		w.Write(b)
	}))))
	addr := serveRouter(t, r)
	data := make([]byte, 16<<20)
	rand.Read(data)
	res, body, err := get(t, clientFor(t), "PUT", addr, "web.localhost", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || body != string(data) {
		t.Fatalf("status %d, %d bytes back of %d, equal=%v", res.StatusCode, len(body), len(data), body == string(data))
	}
}

// An app may answer before it has read the body (here, refusing it): the
// answer reaches the client while the router is still sending the body.
func TestFastPathAnswerBeforeTheBodyIsRead(t *testing.T) {
	r := newTestRouter(t, Config{DefaultBodyLimit: 64 << 20})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "no")
	}))))
	addr := serveRouter(t, r)
	data := make([]byte, 16<<20)
	res, body, err := get(t, clientFor(t), "PUT", addr, "web.localhost", bytes.NewReader(data))
	if err != nil {
		// The client may see its upload cut instead; it must not hang.
		t.Logf("client: %v", err)
		return
	}
	if res.StatusCode != 403 || body != "no" {
		t.Fatalf("%d %q, want the app's 403", res.StatusCode, body)
	}
}

func TestFastPathResponsesWithoutBody(t *testing.T) {
	r := newTestRouter(t, Config{})
	var conns atomic.Int64
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(304)
		default:
			io.WriteString(w, "body")
		}
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go backend.Serve(ln)
	t.Cleanup(func() { backend.Close() })
	publish(t, r, oneRevision("web", ln.Addr().String()))
	addr := serveRouter(t, r)
	c := clientFor(t)
	for range 3 {
		for _, tc := range []struct {
			method, path string
			code         int
			cl           int64
		}{{"HEAD", "/head", 200, 1234}, {"GET", "/204", 204, -1}, {"GET", "/304", 304, -1}, {"GET", "/", 200, 4}} {
			req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
			req.Host = "web.localhost"
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.code || len(b) != 0 && tc.path != "/" || (tc.cl >= 0 && res.ContentLength != tc.cl) {
				t.Errorf("%s %s: %d, length %d, body %q", tc.method, tc.path, res.StatusCode, res.ContentLength, b)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the app for 12 requests in a row, want 1", n)
	}
}

func TestFastPathPassesInformationalResponses(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))))
	addr := serveRouter(t, r)
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+"/", nil)
	req.Host = "web.localhost"
	res, err := clientFor(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "final" || res.Header.Get("Link") != "" {
		t.Errorf("final: %d %q %v", res.StatusCode, b, res.Header)
	}
	if len(got) != 1 || got[0] != "103 </style.css>; rel=preload" {
		t.Errorf("1xx seen by the client: %q", got)
	}
}

func TestFastPathResponseUntilClose(t *testing.T) {
	r := newTestRouter(t, Config{})
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n\r\nall until close %d", n)
	})
	publish(t, r, oneRevision("web", addr))
	for i := 1; i <= 2; i++ {
		if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 || body != fmt.Sprint("all until close ", i) {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := idleConns(r, addr); n != 0 {
		t.Errorf("%d idle connections after responses delimited by close, want 0", n)
	}
}

func TestFastPathInstanceClosingMidBody(t *testing.T) {
	r := newTestRouter(t, Config{})
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, _, err := readReq(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!")
	})
	publish(t, r, oneRevision("web", addr))
	raddr := serveRouter(t, r)
	_, body, err := get(t, clientFor(t), "GET", raddr, "web.localhost", nil)
	if err == nil {
		t.Fatalf("a response cut short reached the client as complete: %q", body)
	}
	if n := idleConns(r, addr); n != 0 {
		t.Errorf("%d idle connections after a broken response, want 0", n)
	}
}

func TestFastPathTrailers(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Te") != "trailers" {
			t.Errorf("Te = %q, want trailers (the client sent it)", req.Header.Get("Te"))
		}
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "data")
		w.Header().Set("X-Sum", "42")
	}))))
	addr := serveRouter(t, r)
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "web.localhost"
	req.Header.Set("Te", "trailers")
	res, err := clientFor(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "data" || res.Trailer.Get("X-Sum") != "42" {
		t.Errorf("body %q trailer %v", b, res.Trailer)
	}
}

// The head sent to the app: framing of the router's own, no User-Agent
// when the client sent none, Content-Length: 0 for a bodiless POST.
func TestFastPathRequestHead(t *testing.T) {
	r := newTestRouter(t, Config{})
	heads := make(chan string, 4)
	addr := rawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			heads <- head.String()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	publish(t, r, oneRevision("web", addr))
	do(t, r, "POST", "web.localhost", "/p?q=1", nil, http.Header{"X-App": {"a", "b"}})
	h := <-heads
	for _, want := range []string{"POST /p?q=1 HTTP/1.1\r\nHost: web.localhost\r\n", "Content-Length: 0\r\n", "X-App: a\r\nX-App: b\r\n",
		"X-Forwarded-For: 192.0.2.1\r\n", "X-Forwarded-Host: web.localhost\r\n", "X-Forwarded-Proto: http\r\n"} {
		if !strings.Contains(h, want) {
			t.Errorf("head lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "User-Agent") || strings.Contains(h, "Transfer-Encoding") {
		t.Errorf("head:\n%s", h)
	}
}

// The fast path follows the reverse proxy's retry rule for connections
// that fail: tried once on each instance when the dial fails.
func TestFastPathDialFailureTriesEachInstanceOnce(t *testing.T) {
	r := newTestRouter(t, Config{})
	var mu sync.Mutex
	var tried []string
	r.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		tried = append(tried, addr)
		mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	publish(t, r, oneRevision("web", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"))
	if code, _, _ := do(t, r, "POST", "web.localhost", "/", strings.NewReader("data"), nil); code != 502 {
		t.Errorf("status %d, want 502", code)
	}
	if len(tried) != 3 || tried[0] == tried[1] || tried[1] == tried[2] || tried[0] == tried[2] {
		t.Errorf("tried %v, want each instance once", tried)
	}
	for _, b := range r.table.Load().services["web"].revisions[0].backends {
		if n := b.inst.inflight.Load(); n != 0 {
			t.Errorf("%s in flight = %d after the request", b.addr, n)
		}
	}
}

// Shutdown's deadline ends a request waiting on a slow instance with 503,
// on the fast path as on the proxy's.
func TestFastPathShutdownDeadlineEndsRequests(t *testing.T) {
	r := newTestRouter(t, Config{})
	inApp := make(chan struct{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(inApp)
		select {
		case <-req.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))))
	got := make(chan int, 1)
	go func() {
		code, _, _ := do(t, r, "GET", "web.localhost", "/", nil, nil)
		got <- code
	}()
	<-inApp
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v", err)
	}
	if code := <-got; code != 503 {
		t.Errorf("request in flight got %d, want 503", code)
	}
}

// A request whose length two parties could read differently never reaches
// an app as sent: the router refuses it, or (net/http's server, for chunked
// beside a Content-Length) drops the length and frames the body itself.
func TestAmbiguousFramingIsRefusedOrReframed(t *testing.T) {
	r := newTestRouter(t, Config{})
	type seen struct {
		uri, te, cl string
		body        string
	}
	got := make(chan seen, 8)
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got <- seen{req.RequestURI, fmt.Sprint(req.TransferEncoding), req.Header.Get("Content-Length"), string(b)}
	}))))
	addr := serveRouter(t, r)
	// Chunked wins over the length; what follows the last chunk is the
	// client's next request, which the router parses and routes itself.
	res, _ := rawRequest(t, addr, "POST /a HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.localhost\r\n\r\n")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if s := <-got; s.uri != "/a" || s.te != "[chunked]" || s.cl != "" || s.body != "" {
		t.Errorf("app saw %+v, want /a, chunked, no length, empty body", s)
	}
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd",
		"POST / HTTP/1.1\r\nHost: web.localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: web.localhost\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\nConnection: close\r\n\r\na",
	} {
		if res, _ := rawRequest(t, addr, raw); res.StatusCode < 400 || res.StatusCode >= 500 && res.StatusCode != 501 {
			t.Errorf("%q: status %d, want it refused", raw, res.StatusCode)
		}
	}
	// Requests handed to ServeHTTP by another server are checked too.
	for _, c := range []struct {
		te []string
		cl []string
	}{{[]string{"gzip"}, nil}, {[]string{"chunked"}, []string{"4"}}, {nil, []string{"3", "4"}}, {[]string{"chunked", "chunked"}, nil}} {
		req := httptest.NewRequest("POST", "http://web.localhost/", strings.NewReader("abcd"))
		req.TransferEncoding = c.te
		if c.cl != nil {
			req.Header["Content-Length"] = c.cl
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 400 {
			t.Errorf("te %v cl %v: %d, want 400", c.te, c.cl, w.Code)
		}
	}
	select {
	case s := <-got:
		if s.uri != "/smuggled" {
			t.Errorf("app saw %+v", s)
		}
	default:
	}
}
