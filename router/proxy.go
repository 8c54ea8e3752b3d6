package router

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// leaseKey carries a request's lease from ServeHTTP to Rewrite and the
// retrying transport.
type leaseKey struct{}

// newTransport is tuned for a few instances each taking many concurrent
// requests: many idle connections per instance (Go's default of 2 makes most
// requests under load pay a new connection), no proxy from the environment
// (instances are local), no compression (the app's bytes pass through as
// they are), and HTTP/1.1 only, which is what apps listen with.
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          0, // no global cap; the per-host one bounds it
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

func (r *Router) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    &retryTransport{r: r, next: r.transport},
		BufferPool:   bufferPool{},
		ErrorHandler: r.proxyError,
		// The proxy flushes streamed responses (SSE, unknown length) at
		// once by itself; a fixed interval would only add latency.
		FlushInterval: 0,
		ErrorLog:      log.New(slogWriter{r.log}, "", 0),
	}
}

// rewrite points the outbound request at the leased instance and sets the
// forwarding headers. Only the router sets them: whatever the client sent
// under any spelling is dropped first (stripForwarding), so an app can trust
// X-Forwarded-For to be the client's address.
func rewrite(pr *httputil.ProxyRequest) {
	l := pr.In.Context().Value(leaseKey{}).(*lease)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = l.b.addr
	// The app sees the host the client asked for, as behind App Runner.
	pr.Out.Host = pr.In.Host
	stripForwarding(pr.Out.Header)
	pr.SetXForwarded()
}

// spoofable are header names (lowercase, '_' read as '-') that carry client
// or proxy identity. A client may send any of them; none reaches the app
// unless the router set it.
var spoofable = map[string]bool{
	"forwarded":                true,
	"x-real-ip":                true,
	"x-client-ip":              true,
	"true-client-ip":           true,
	"x-cluster-client-ip":      true,
	"x-original-forwarded-for": true,
	"cf-connecting-ip":         true,
	"fastly-client-ip":         true,
}

// stripForwarding deletes every forwarding header whatever its case and
// whether it is spelled with dashes or underscores: X_Forwarded_For reaches
// a CGI-style backend (and many frameworks) as HTTP_X_FORWARDED_FOR, the same
// variable as X-Forwarded-For.
func stripForwarding(h map[string][]string) {
	for k := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if strings.HasPrefix(n, "x-forwarded-") || spoofable[n] {
			delete(h, k)
		}
	}
}

// bufferPool lends the proxy 32 KiB copy buffers instead of allocating one
// per response.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// proxyError answers a request the instance could not answer, with a short
// text body saying which failure it was.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	l, _ := req.Context().Value(leaseKey{}).(*lease)
	svc := ""
	if l != nil {
		svc = l.svc.name
	}
	r.writeProxyError(w, svc, req.Host, err, context.Cause(req.Context()))
}

// writeProxyError is proxyError for both paths: cause is why the request
// ended early (the router shutting down, its timeout, the client gone), or
// nil when the instance failed.
func (r *Router) writeProxyError(w http.ResponseWriter, svc, host string, err, cause error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeText(w, http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("apprun: the request body is larger than %d bytes", mbe.Limit))
	case errors.Is(err, errShuttingDown), errors.Is(cause, errShuttingDown):
		writeText(w, http.StatusServiceUnavailable, 1, "apprun: the router is shutting down")
	case errors.Is(err, errRequestTimeout), errors.Is(cause, errRequestTimeout):
		writeText(w, http.StatusGatewayTimeout, 0, fmt.Sprintf("apprun: %s did not answer in time", svc))
	default:
		if cause == nil {
			r.log.Warn("proxying failed", "service", svc, "host", host, "err", err)
		}
		writeText(w, http.StatusBadGateway, 0, fmt.Sprintf("apprun: %s could not be reached", svc))
	}
}

// writeText writes a short plain-text error; retryAfter > 0 sets
// Retry-After (seconds).
func writeText(w http.ResponseWriter, code, retryAfter int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if retryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(retryAfter))
	}
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// slogWriter sends the proxy's own log lines (rare: a copy that failed
// half way) to the router's logger.
type slogWriter struct{ log *slog.Logger }

func (s slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	// A failed handshake is a client's business (a scanner, a name with no
	// certificate, a client that does not trust the CA): one Warn per
	// handshake would drown the log.
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		s.log.Debug(msg, "source", "http")
		return len(p), nil
	}
	s.log.Warn(msg, "source", "reverseproxy")
	return len(p), nil
}
