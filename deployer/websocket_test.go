package deployer_test

import (
	"net"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// A websocket open on an old revision keeps it through the drain; when the
// drain times out and the instance stops, the connection ends and the
// router forgets it, so a later instance that gets the same address starts
// with nothing in flight.
func TestWebsocketEndsWithItsInstance(t *testing.T) {
	h := newHarness(t, func(c *deployer.Config) { c.DrainTimeout = 2 * time.Second; c.StopGrace = time.Second })
	svc := h.service("web", nil)
	h.mustDeploy(svc, h.revision(svc, "v1", nil))
	old := h.instances(svc)[0]
	addr := net.JoinHostPort(old.IP, "8080")
	echo, closeWS, err := h.wsDial("web")
	if err != nil {
		t.Fatal(err)
	}
	defer closeWS()
	if err := echo("hello"); err != nil {
		t.Fatal(err)
	}
	if n := h.rt.InFlight(addr); n != 1 {
		t.Fatalf("in flight at %s with a websocket open: %d", addr, n)
	}
	start := time.Now()
	h.mustDeploy(svc, h.revision(svc, "v2", nil))
	took := time.Since(start)
	if took < 2*time.Second {
		t.Errorf("the deploy took %s: it did not wait for the websocket", took)
	}
	eventually(t, 10*time.Second, "the websocket's slot is released", func() bool { return h.rt.InFlight(addr) == 0 })
	if err := echo("still there?"); err == nil {
		t.Error("the websocket still echoes after its instance stopped")
	}
	_ = spec.StateSucceeded
}
