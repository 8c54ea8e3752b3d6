package router

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// newTestRouter returns a router with cfg's settings (defaults for the
// rest) logging through the test.
func newTestRouter(t *testing.T, cfg Config) *Router {
	t.Helper()
	r, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.transport.CloseIdleConnections()
		r.closeIdleUpstreams()
	})
	return r
}

// backend starts a real HTTP server on loopback and returns its host:port.
func startBackend(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func publish(t *testing.T, r *Router, sr spec.ServiceRoutes) {
	t.Helper()
	if err := r.Publish(sr); err != nil {
		t.Fatal(err)
	}
}

func oneRevision(service string, addrs ...string) spec.ServiceRoutes {
	return spec.ServiceRoutes{Service: service, Revisions: []spec.RevisionRoutes{{ID: service + "-r1", Instances: addrs}}}
}

// do sends a request for host through the router's handler and returns the
// status and body.
func do(t *testing.T, h http.Handler, method, host, path string, body io.Reader, hdr http.Header) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(method, "http://"+host+path, body)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Header(), w.Body.String()
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
