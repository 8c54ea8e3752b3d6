package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// retryTransport retries a request on another instance of the same
// revision when the connection to the first failed before the request was
// sent: the dial failed (the instance died, or is stopping) and not a byte
// of the body was read. Anything else is not retried, because the app may
// already have acted on the request.
type retryTransport struct {
	r    *Router
	next http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	l, _ := req.Context().Value(leaseKey{}).(*lease)
	var body *watchedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &watchedBody{rc: req.Body}
		req.Body = body
	}
	for {
		res, err := t.next.RoundTrip(req)
		if err == nil {
			if l != nil && l.b != nil {
				l.b.inst.failures.Store(0)
			}
			if res.StatusCode == http.StatusSwitchingProtocols && l != nil && l.rec != nil {
				if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
					res.Body = &tunnelEnd{ReadWriteCloser: rwc, end: l.rec.closeConn}
				}
			}
			return res, nil
		}
		if l == nil || l.b == nil || !isDialError(err) || req.Context().Err() != nil || (body != nil && body.read.Load()) {
			return nil, err
		}
		if !t.r.retryOnAnother(req.Context(), l) {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL.Host = l.b.addr
		if body != nil {
			req.Body = body
		}
	}
}

// retryOnAnother counts a failed connection against the lease's instance
// and moves the lease to another instance of the revision, after
// RetryBackoff. It reports false when there is no other free instance (the
// lease then stays where it was) or ctx ended during the pause.
func (r *Router) retryOnAnother(ctx context.Context, l *lease) bool {
	l.b.inst.failures.Add(1)
	if !r.moveLease(l) {
		return false
	}
	l.rev.state.rm().retries.Inc()
	if d := r.cfg.RetryBackoff; d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// moveLease moves the lease to another instance of its revision that it has
// not tried, without waiting. It reports false when there is none free; the
// lease then keeps its slot on the failed instance until the request ends.
func (r *Router) moveLease(l *lease) bool {
	l.tried = append(l.tried, l.b.addr)
	nb := pickBackend(l.rev.backends, int64(l.svc.maxConcurrency), r.rnd, func(a string) bool {
		return slices.Contains(l.tried, a)
	})
	if nb == nil {
		return false
	}
	l.release()
	l.b = nb
	return true
}

// isDialError reports whether err is a failure to connect, which the
// transport returns before writing any of the request.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// watchedBody records whether anything read the request body, so a retry
// is only made with the body intact. Close does not close the inbound
// body: the transport closes what it is given even on a failed dial, and the
// server closes the inbound body itself when the handler returns.
type watchedBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p)
}

func (b *watchedBody) Close() error { return nil }
