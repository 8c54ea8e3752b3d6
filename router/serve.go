package router

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// servedKey marks the contexts of requests from Serve's servers, which
// descend from the router's stop context.
type servedKey struct{}

// Causes set on a request's context, so the error handler can tell the
// router's own deadlines from a client that went away.
var (
	errRequestTimeout = errors.New("request timeout")
	errShuttingDown   = errors.New("router shutting down")
)

// ServeHTTP routes one request: it finds the service by host, picks a
// revision by weight and an instance by least outstanding requests (holding
// the request while none is free), and proxies it.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.active.Add(1)
	defer r.leave()
	start := r.cfg.Now()
	rec := &recorder{ResponseWriter: w}
	if r.cfg.AccessLog != nil {
		defer func() { r.logAccess(req, rec, start) }()
	}

	if ambiguousFraming(req) {
		writeText(rec, http.StatusBadRequest, 0, "apprun: the request's length is ambiguous (Content-Length and Transfer-Encoding disagree)")
		return
	}
	t := r.table.Load()
	svc := t.lookup(req.Host)
	if svc == nil {
		writeText(rec, http.StatusNotFound, 0, fmt.Sprintf("apprun: no service answers at %q", normalizeHost(req.Host)))
		return
	}
	rev := svc.pickRevision(r.rnd)
	if rev == nil {
		writeText(rec, http.StatusServiceUnavailable, 1, fmt.Sprintf("apprun: %s has no revision taking traffic", svc.name))
		return
	}

	// The request ends early when Shutdown's deadline passes; websockets
	// included, since the proxy closes an upgraded connection when the
	// request's context ends. Requests from Serve's servers descend from
	// stopCtx already (BaseContext), which costs nothing per request; a
	// request from another server is tied to it here.
	ctx := req.Context()
	if ctx.Value(servedKey{}) == nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		stopAfter := context.AfterFunc(r.stopCtx, func() { cancel(context.Cause(r.stopCtx)) })
		defer stopAfter()
	}

	l := &lease{svc: svc, rev: rev, rec: rec}
	l.rev.state.enter(start)
	err := r.acquire(ctx, t, l)
	st := l.rev.state
	defer func() {
		end := r.cfg.Now()
		st.leave(end)
		st.lat.observe(end.Sub(start))
		st.rm().observe(rec.code(req), end.Sub(start))
	}()
	if err != nil {
		r.reject(rec, l, err)
		return
	}
	defer l.release()

	if lim := l.svc.bodyLimit; lim > 0 || (lim == 0 && r.cfg.DefaultBodyLimit > 0) {
		if lim == 0 {
			lim = r.cfg.DefaultBodyLimit
		}
		if req.ContentLength > lim {
			writeText(rec, http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("apprun: the request body is larger than %d bytes", lim))
			return
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(rec, req.Body, lim)
		}
	}
	// The request timeout bounds ordinary requests, streams included (as in
	// App Runner); an upgraded connection (websocket) is bounded by
	// Shutdown instead, as it is meant to stay open.
	d := l.svc.requestTimeout
	if d == 0 {
		d = r.cfg.DefaultRequestTimeout
	}
	// Ordinary requests take the fast path (forward.go), which bounds them
	// with a deadline on the instance's connection instead of a context.
	if r.fastPath() && r.forward(ctx, rec, req, l, d) {
		return
	}
	if !isUpgrade(req) {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeoutCause(ctx, d, errRequestTimeout)
		defer cancelT()
	}
	r.proxy.ServeHTTP(rec, req.WithContext(context.WithValue(ctx, leaseKey{}, l)))
}

// fastPath reports whether the fast path stands in for the proxy's
// transport: only while the proxy uses the router's own (tests give it
// one that fails at will, to exercise the retry rules of that path).
func (r *Router) fastPath() bool {
	rt, ok := r.proxy.Transport.(*retryTransport)
	return ok && rt.next == http.RoundTripper(r.transport)
}

// reject answers a request that got no instance.
func (r *Router) reject(w http.ResponseWriter, l *lease, err error) {
	st := l.rev.state
	switch {
	case errors.Is(err, errQueueFull):
		r.m.rejected.WithLabelValues(st.key.service, st.key.revision, "queue_full").Inc()
		writeText(w, http.StatusServiceUnavailable, 1, fmt.Sprintf("apprun: %s is busy: too many requests are waiting for an instance", l.svc.name))
	case errors.Is(err, errHoldTimeout):
		r.m.rejected.WithLabelValues(st.key.service, st.key.revision, "hold_timeout").Inc()
		writeText(w, http.StatusServiceUnavailable, 1, fmt.Sprintf("apprun: no instance of %s was ready within %v", l.svc.name, r.cfg.HoldTimeout))
	case errors.Is(err, errGone):
		writeText(w, http.StatusNotFound, 0, fmt.Sprintf("apprun: %s was removed", l.svc.name))
	case errors.Is(err, errShuttingDown):
		writeText(w, http.StatusServiceUnavailable, 1, "apprun: the router is shutting down")
	default:
		// errNoRevision, or the client went away (then nobody reads this).
		writeText(w, http.StatusServiceUnavailable, 1, fmt.Sprintf("apprun: %s is not available", l.svc.name))
	}
}

// ambiguousFraming reports a request whose body length two parties could
// read differently, the stuff of request smuggling: a transfer coding other
// than chunked alone, one with a Content-Length beside it, or differing
// Content-Lengths. net/http's server refuses these itself (or, for chunked
// with a Content-Length, drops the length); this holds for requests from
// any other server, whose framing the proxy must not pass on.
func ambiguousFraming(req *http.Request) bool {
	te := req.TransferEncoding
	if hte, ok := req.Header["Transfer-Encoding"]; ok {
		te = hte
	}
	if len(te) > 1 || (len(te) == 1 && !strings.EqualFold(strings.TrimSpace(te[0]), "chunked")) {
		return true
	}
	cl := req.Header["Content-Length"]
	if len(te) > 0 && len(cl) > 0 {
		return true
	}
	for _, v := range cl[min(1, len(cl)):] {
		if strings.TrimSpace(v) != strings.TrimSpace(cl[0]) {
			return true
		}
	}
	return false
}

func isUpgrade(req *http.Request) bool {
	return req.Header.Get("Upgrade") != "" && headerHasToken(req.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// leave counts a request out and wakes Shutdown when it was the last one.
func (r *Router) leave() {
	if r.active.Add(-1) == 0 {
		select {
		case r.idle <- struct{}{}:
		default:
		}
	}
}

// Serve accepts app traffic on ln with a server the router configures
// (header size and time limits against oversized and slowloris clients)
// until Shutdown. Serve a TLS listener (tls.NewListener) for HTTPS: the
// router sees the TLS state and sets X-Forwarded-Proto from it. It returns
// nil after Shutdown.
func (r *Router) Serve(ln net.Listener) error { return r.ServeHandler(ln, r) }

// ServeHandler is Serve with h in front of the router: h answers what is
// not app traffic (ACME challenges, domain-ownership tokens, the redirect
// to HTTPS on the plain-HTTP port) and passes the rest to the router.
func (r *Router) ServeHandler(ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: r.cfg.ReadHeaderTimeout,
		MaxHeaderBytes:    r.cfg.MaxHeaderBytes,
		IdleTimeout:       r.cfg.IdleTimeout,
		ErrorLog:          log.New(slogWriter{r.log}, "", 0),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(r.stopCtx, servedKey{}, true)
		},
	}
	r.srvMu.Lock()
	if r.shutdown {
		r.srvMu.Unlock()
		ln.Close()
		return nil
	}
	r.servers = append(r.servers, srv)
	r.srvMu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving app traffic: %w", err)
	}
	return nil
}

// Shutdown stops accepting, lets requests in flight finish (websockets and
// requests held for an instance included) and returns when they have, or
// when ctx ends: what is left is then cut short (each gets a 503 if it has
// not answered yet) and Shutdown returns ctx's error.
func (r *Router) Shutdown(ctx context.Context) error {
	r.srvMu.Lock()
	r.shutdown = true
	servers := r.servers
	r.srvMu.Unlock()
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.Shutdown(ctx) }()
	}
	var errs []error
	for range servers {
		errs = append(errs, <-errc)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for r.active.Load() > 0 {
		select {
		case <-r.idle:
		case <-tick.C:
		case <-ctx.Done():
			// Cut short: held requests and websockets end with their
			// context, and closing the connections unblocks handlers
			// writing to clients that stopped reading. Wait (briefly) for
			// the handlers to return so the router is quiet after this.
			r.stop(errShuttingDown)
			for _, srv := range servers {
				srv.Close()
			}
			grace := time.NewTimer(time.Second)
			defer grace.Stop()
			for r.active.Load() > 0 {
				select {
				case <-r.idle:
				case <-tick.C:
				case <-grace.C:
					r.log.Warn("router shutdown: requests still running after the deadline", "count", r.active.Load())
					r.transport.CloseIdleConnections()
					r.closeIdleUpstreams()
					return ctx.Err()
				}
			}
			r.transport.CloseIdleConnections()
			r.closeIdleUpstreams()
			return ctx.Err()
		}
	}
	r.stop(errShuttingDown)
	r.transport.CloseIdleConnections()
	r.closeIdleUpstreams()
	return errors.Join(errs...)
}
