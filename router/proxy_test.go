package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// echoHeaders answers with the request's headers and host as JSON.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(map[string]any{"host": r.Host, "header": r.Header})
}

// rawRequest sends a request written by hand, so header names reach the
// router exactly as spelled (Go's client would canonicalise them).
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// serveRouter runs r.Serve on a loopback listener and returns its address.
func serveRouter(t *testing.T, r *Router) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestSpoofedForwardingHeadersNeverReachTheApp(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(echoHeaders))))
	addr := serveRouter(t, r)
	spoofs := []string{
		"X-Forwarded-For: 6.6.6.6", "x-forwarded-for: 6.6.6.6", "X-FORWARDED-FOR: 6.6.6.6",
		"X_Forwarded_For: 6.6.6.6", "x_forwarded_for: 6.6.6.6", "X-Forwarded_For: 6.6.6.6",
		"X-Forwarded-Proto: https", "x_forwarded_proto: https", "X-Forwarded-Host: evil.example",
		"X_FORWARDED_HOST: evil.example", "X-Forwarded-Port: 1", "X-Forwarded-Prefix: /evil",
		"X-Forwarded-Server: evil", "X-Forwarded-Ssl: on",
		"Forwarded: for=6.6.6.6;proto=https", "FORWARDED: for=6.6.6.6", "forwarded: for=6.6.6.6",
		"X-Real-IP: 6.6.6.6", "x-real-ip: 6.6.6.6", "X_Real_IP: 6.6.6.6", "X-REAL-IP: 6.6.6.6",
		"X-Client-IP: 6.6.6.6", "True-Client-IP: 6.6.6.6", "X-Cluster-Client-IP: 6.6.6.6",
		"X-Original-Forwarded-For: 6.6.6.6", "CF-Connecting-IP: 6.6.6.6",
		// Listing our own headers as hop-by-hop must not remove them either.
		"Connection: X-Forwarded-For, X-Forwarded-Proto",
	}
	for _, s := range spoofs {
		t.Run(s, func(t *testing.T) {
			res, body := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: web.localhost\r\n"+s+"\r\nConnection: close\r\n\r\n")
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var got struct {
				Host   string
				Header http.Header
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(body, "6.6.6.6") || strings.Contains(body, "evil") || strings.Contains(body, "https") {
				t.Errorf("a spoofed value reached the app: %s", body)
			}
			for k := range got.Header {
				n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
				if spoofable[n] || (strings.HasPrefix(n, "x-forwarded-") && k != "X-Forwarded-For" && k != "X-Forwarded-Proto" && k != "X-Forwarded-Host") {
					t.Errorf("header %q reached the app", k)
				}
			}
			if xff := got.Header["X-Forwarded-For"]; len(xff) != 1 || xff[0] != "127.0.0.1" {
				t.Errorf("X-Forwarded-For = %q, want the client's address only", xff)
			}
			if p := got.Header.Get("X-Forwarded-Proto"); p != "http" {
				t.Errorf("X-Forwarded-Proto = %q, want http", p)
			}
			if h := got.Header.Get("X-Forwarded-Host"); h != "web.localhost" {
				t.Errorf("X-Forwarded-Host = %q, want web.localhost", h)
			}
		})
	}
}

func TestHostVariantsRouteIdentically(t *testing.T) {
	r := newTestRouter(t, Config{AppsDomain: "apps.test"})
	a := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "app") }))
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "other") }))
	sr := oneRevision("app", a)
	sr.Hosts = []string{"app.example.com"}
	publish(t, r, sr)
	publish(t, r, oneRevision("other", b))
	for _, h := range []string{"app.example.com", "App.Example.COM", "app.example.com.", "app.example.com:443", "APP.APPS.TEST", "app.apps.test.:80"} {
		if code, _, body := do(t, r, "GET", h, "/", nil, nil); code != 200 || body != "app" {
			t.Errorf("%s: %d %q, want 200 app", h, code, body)
		}
	}
	code, _, body := do(t, r, "GET", "nothing.apps.test", "/", nil, nil)
	if code != 404 || !strings.Contains(body, "nothing.apps.test") {
		t.Errorf("unknown host: %d %q", code, body)
	}
}

func TestHopByHopHeadersDropped(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(echoHeaders))))
	_, _, body := do(t, r, "GET", "web.localhost", "/", nil, http.Header{
		"Connection": {"X-Secret"}, "X-Secret": {"s"}, "Keep-Alive": {"timeout=5"}, "Proxy-Authorization": {"Basic eA=="}, "X-Kept": {"yes"},
	})
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization"} {
		if strings.Contains(body, h) {
			t.Errorf("%s reached the app: %s", h, body)
		}
	}
	if !strings.Contains(body, "X-Kept") {
		t.Errorf("an end-to-end header was dropped: %s", body)
	}
}

func TestDeadInstanceIsRetriedOnAnother(t *testing.T) {
	r := newTestRouter(t, Config{})
	var hits atomic.Int64
	live := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(req.Body)
		w.Write(b)
	}))
	publish(t, r, oneRevision("web", deadAddr(t), live))
	for i := range 50 {
		code, _, body := do(t, r, "POST", "web.localhost", "/", strings.NewReader(fmt.Sprint("body", i)), nil)
		if code != 200 || body != fmt.Sprint("body", i) {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if hits.Load() != 50 {
		t.Errorf("live instance got %d requests, want 50", hits.Load())
	}
	// The dead instance is now known to fail and ranks below the live one.
	for _, b := range r.table.Load().services["web"].revisions[0].backends {
		if b.addr != live && b.inst.failures.Load() == 0 {
			t.Error("dead instance has no failure counted")
		}
		if b.inst.inflight.Load() != 0 {
			t.Errorf("%s in flight = %d after all requests ended", b.addr, b.inst.inflight.Load())
		}
	}
}

func TestErrorsAreShortAndClear(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("dead", deadAddr(t)))
	code, h, body := do(t, r, "GET", "dead.localhost", "/", nil, nil)
	if code != 502 || !strings.Contains(body, "dead could not be reached") || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("dead instance: %d %q %v", code, body, h)
	}

	slow := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	sr := oneRevision("slow", slow)
	sr.RequestTimeout = 100 * time.Millisecond
	publish(t, r, sr)
	if code, _, body := do(t, r, "GET", "slow.localhost", "/", nil, nil); code != 504 || !strings.Contains(body, "did not answer in time") {
		t.Errorf("slow instance: %d %q", code, body)
	}

	echo := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, err := io.ReadAll(req.Body); err != nil {
			// The router's limit cut the body: the app sees an error.
			w.WriteHeader(400)
		}
	}))
	sr = oneRevision("small", echo)
	sr.BodyLimit = 10
	publish(t, r, sr)
	if code, _, _ := do(t, r, "POST", "small.localhost", "/", strings.NewReader("0123456789abc"), nil); code != 413 {
		t.Errorf("declared oversized body: %d, want 413", code)
	}
	// A body of unknown length is cut at the limit while it streams.
	req := httptest.NewRequest("POST", "http://small.localhost/", io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("abc")))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != 413 && w.Code != 400 {
		t.Errorf("streamed oversized body: %d, want 413 (or the app's 400)", w.Code)
	}
	if code, _, _ := do(t, r, "POST", "small.localhost", "/", strings.NewReader("0123456789"), nil); code != 200 {
		t.Errorf("body at the limit: %d, want 200", code)
	}
}

func TestServerSentEventsAreFlushed(t *testing.T) {
	r := newTestRouter(t, Config{})
	release := make(chan struct{})
	publish(t, r, oneRevision("sse", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
	}))))
	addr := serveRouter(t, r)
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "sse.localhost"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !bytes.Contains(rest, []byte("data: two")) {
		t.Fatalf("second event missing: %q", rest)
	}
}

func TestWebsocketUpgradePassesThrough(t *testing.T) {
	r := newTestRouter(t, Config{})
	// A minimal upgrade: the app switches protocols and echoes lines.
	publish(t, r, oneRevision("ws", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not an upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + line)
			brw.Flush()
		}
	}))))
	addr := serveRouter(t, r)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: ws.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	io.WriteString(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo hello\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
}

func TestAccessLogCombinedFormat(t *testing.T) {
	var buf bytes.Buffer
	r := newTestRouter(t, Config{AccessLog: &buf})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }))))
	do(t, r, "GET", "web.localhost", "/a?b=c", nil, http.Header{"Referer": {"http://x/"}, "User-Agent": {`evil"agent`}})
	do(t, r, "GET", "none.localhost", "/", nil, nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), buf.String())
	}
	re := regexp.MustCompile(`^192\.0\.2\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET http://web\.localhost/a\?b=c HTTP/1\.1" 200 5 "http://x/" "evil\\"agent"$`)
	if !re.MatchString(lines[0]) {
		t.Errorf("line 1 = %q", lines[0])
	}
	if !strings.Contains(lines[1], `" 404 `) {
		t.Errorf("line 2 = %q", lines[1])
	}
}

var _ = spec.ServiceRoutes{}
