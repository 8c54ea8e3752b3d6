package router

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/apprun/apprun/spec"
)

// fakeTransport fails every request with a dial error, after reading the
// body first if readBody is set, and records the hosts it was asked for.
type fakeTransport struct {
	readBody bool
	hosts    []string
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.hosts = append(f.hosts, req.URL.Host)
	if f.readBody && req.Body != nil {
		io.ReadAll(req.Body)
	}
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
}

func TestRetryOnlyWhenNothingWasSent(t *testing.T) {
	for _, c := range []struct {
		name     string
		readBody bool
		body     string
		tries    int
	}{
		{"no body: every instance tried once", false, "", 3},
		{"body untouched: every instance tried once", false, "data", 3},
		{"body read: never retried", true, "data", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newTestRouter(t, Config{})
			publish(t, r, spec.ServiceRoutes{Service: "web", Revisions: []spec.RevisionRoutes{{ID: "r1",
				Instances: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}}}})
			ft := &fakeTransport{readBody: c.readBody}
			r.proxy.Transport = &retryTransport{r: r, next: ft}
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			code, _, _ := do(t, r, "POST", "web.localhost", "/", body, nil)
			if code != 502 {
				t.Errorf("status %d, want 502", code)
			}
			if len(ft.hosts) != c.tries {
				t.Errorf("tried %v, want %d tries", ft.hosts, c.tries)
			}
			seen := map[string]bool{}
			for _, h := range ft.hosts {
				if seen[h] {
					t.Errorf("instance %s tried twice", h)
				}
				seen[h] = true
			}
			for _, b := range r.table.Load().services["web"].revisions[0].backends {
				if n := b.inst.inflight.Load(); n != 0 {
					t.Errorf("%s in flight = %d after the request", b.addr, n)
				}
			}
		})
	}
}
