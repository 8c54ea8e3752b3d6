package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOversizedHeadersAreRefused(t *testing.T) {
	r := newTestRouter(t, Config{MaxHeaderBytes: 4 << 10})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(echoHeaders))))
	addr := serveRouter(t, r)
	res, _ := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

func TestSlowlorisIsCutOff(t *testing.T) {
	r := newTestRouter(t, Config{ReadHeaderTimeout: 200 * time.Millisecond})
	addr := serveRouter(t, r)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	// A header sent a byte at a time, never finished.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Slow: ")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := io.WriteString(c, "a"); err != nil {
				errc <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	buf := make([]byte, 1024)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("slow client held a connection for %v with a 200 ms header timeout", d)
	}
	c.Close()
	<-errc
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	r := newTestRouter(t, Config{})
	inApp := make(chan struct{})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(inApp)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "finished")
	}))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
		req.Host = "web.localhost"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-inApp
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if b := <-got; b != "finished" {
		t.Fatalf("in-flight request got %q", b)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// Shutdown waits for a websocket until its deadline, then closes it.
func TestShutdownWaitsForWebsocketsUntilTheDeadline(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("ws", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, brw) // until the router closes it
	}))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: ws.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = r.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v, want the deadline (the websocket was open)", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("shutdown took %v, want about the 300 ms deadline", d)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("websocket still open after shutdown")
	}
	if r.active.Load() != 0 {
		t.Errorf("%d handlers still running", r.active.Load())
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestShutdownEndsHeldRequests(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("cold"))
	got := make(chan int, 1)
	go func() {
		code, _, _ := do(t, r, "GET", "cold.localhost", "/", nil, nil)
		got <- code
	}()
	for r.table.Load().services["cold"].revisions[0].state.waiting.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v", err)
	}
	if code := <-got; code != 503 {
		t.Fatalf("held request got %d, want 503", code)
	}
}
