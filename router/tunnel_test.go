package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// When the instance ends a websocket, the router ends the client's side
// too and frees the slot, even if the client never hangs up.
func TestTunnelEndsWithTheInstance(t *testing.T) {
	r := newTestRouter(t, Config{})
	closeNow := make(chan struct{})
	addrB := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		<-closeNow
		c.Close()
	}))
	publish(t, r, oneRevision("ws", addrB))
	c, err := net.Dial("tcp", serveRouter(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: ws.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	if n := r.InFlight(addrB); n != 1 {
		t.Fatalf("in flight with the tunnel open: %d", n)
	}
	close(closeNow)
	// The client reads the end of the stream, and the slot is free,
	// though the client itself never closed.
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the client's side stayed open")
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.InFlight(addrB) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the slot is still taken: %d in flight", r.InFlight(addrB))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An address published again for another revision (an engine hands a
// freed IP to a new container) starts with a fresh count.
func TestAddressReusedByAnotherRevisionStartsFresh(t *testing.T) {
	r := newTestRouter(t, Config{})
	release := make(chan struct{})
	addrB := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/hang" {
			<-release
		}
	}))
	defer close(release)
	publish(t, r, oneRevision("web", addrB))
	go do(t, r, "GET", "web.localhost", "/hang", nil, nil)
	deadline := time.Now().Add(5 * time.Second)
	for r.InFlight(addrB) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request never got in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The revision leaves (its request still hangs), another takes the
	// address.
	publish(t, r, spec.ServiceRoutes{Service: "web", Revisions: []spec.RevisionRoutes{{ID: "web-r2"}}})
	publish(t, r, spec.ServiceRoutes{Service: "web", Revisions: []spec.RevisionRoutes{{ID: "web-r2", Instances: []string{addrB}}}})
	if n := r.InFlight(addrB); n != 0 {
		t.Errorf("the new revision's instance starts with %d in flight", n)
	}
}
