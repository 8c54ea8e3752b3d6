package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestRoutes(t *testing.T) {
	t.Setenv("TESTAPP_PROBE", "secret-value")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	srv := httptest.NewServer((&app{version: "r7"}).routes())
	defer srv.Close()
	sick := httptest.NewServer((&app{unhealthy: true}).routes())
	defer sick.Close()

	for _, tc := range []struct {
		url, body string
		code      int
	}{
		{srv.URL + "/", "hello from testapp r7", 200},
		{srv.URL + "/nope", "404 page not found", 404},
		{srv.URL + "/healthz", "ok", 200},
		{sick.URL + "/healthz", "unhealthy (TESTAPP_UNHEALTHY=1)", 500},
		{srv.URL + "/sleep?d=10ms", "slept 10ms", 200},
		{srv.URL + "/sleep?d=x", "", 400},
		{srv.URL + "/dial?addr=" + ln.Addr().String(), "ok", 200},
		{srv.URL + "/dial?addr=" + closedAddr, "", 502},
		{srv.URL + "/env?name=TESTAPP_PROBE", "set", 200},
		{srv.URL + "/env?name=TESTAPP_SURELY_UNSET", "unset", 200},
	} {
		code, body := get(t, tc.url)
		if code != tc.code || (tc.body != "" && body != tc.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tc.url, code, body, tc.code, tc.body)
		}
		if strings.Contains(body, "secret-value") {
			t.Errorf("GET %s leaked an env value", tc.url)
		}
	}
}

func TestAcceptKey(t *testing.T) {
	// The example of RFC 6455 §1.3.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("acceptKey = %q", got)
	}
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer((&app{}).routes())
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 300), strings.Repeat("y", 70000)} {
		c.Write(maskedFrame(opText, []byte(msg)))
		fin, op, payload, err := readFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if !fin || op != opText || string(payload) != msg {
			t.Fatalf("echo of %d bytes: fin=%v op=%d %d bytes", len(msg), fin, op, len(payload))
		}
	}
	c.Write(maskedFrame(opClose, []byte{0x03, 0xE8}))
	if _, op, _, err := readFrame(br); err != nil || op != opClose {
		t.Fatalf("close: op=%d err=%v", op, err)
	}
}

func TestWebSocketRefusesPlainGET(t *testing.T) {
	srv := httptest.NewServer((&app{}).routes())
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/ws"); code != 400 {
		t.Errorf("plain GET /ws = %d, want 400", code)
	}
}

// maskedFrame is a client's frame: clients always mask (RFC 6455 §5.3).
func maskedFrame(op byte, payload []byte) []byte {
	mask := []byte{1, 2, 3, 4}
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, mask...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func TestCrash(t *testing.T) {
	t.Setenv("TESTAPP_CRASH", "1")
	if err := run(t.Context()); err == nil {
		t.Fatal("run with TESTAPP_CRASH=1 returned nil")
	}
}

// TestGracefulShutdown checks that a request in flight when the signal
// comes still gets its answer.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv("PORT", strconv.Itoa(port))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()

	url := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/sleep?d=300ms")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- strings.TrimSpace(string(b))
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if got := <-answered; got != "slept 300ms" {
		t.Errorf("request in flight during shutdown got %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestTCPOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveTCP(ctx, "127.0.0.1:0") }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serveTCP: %v", err)
	}
}
