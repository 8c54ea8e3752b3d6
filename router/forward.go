package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The fast path carries ordinary requests to an instance on the handler's
// own goroutine: it takes a pooled keep-alive connection, writes the
// request head itself and reads the response with http.ReadResponse. The
// profile of the ReverseProxy path showed the routing itself at about 5 %
// of the router's CPU and the rest in net/http's structure: each request
// crossing three goroutines (the server's, the transport's writeLoop and
// readLoop) and a request clone, header maps and contexts per request. A
// request with a body still gets one goroutine, to stream the body while
// the response is read (an app may answer before it has read the body).
//
// Everything unusual stays with httputil.ReverseProxy (upgrades, Expect,
// request trailers, CONNECT, heads the transport would convert): see
// fastEligible and appendRequestHead. Both paths answer the same way: same
// headers to the app, same 502/503/504/413, same retries.

// heads lends the buffers request heads are built in.
var heads = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// aLongTimeAgo is a deadline in the past, which makes blocked I/O on a
// connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// fastEligible reports whether the fast path may carry req; the reverse
// proxy takes the rest.
func fastEligible(req *http.Request) bool {
	return req.Method != http.MethodConnect &&
		!isUpgrade(req) &&
		len(req.Header["Expect"]) == 0 &&
		len(req.Trailer) == 0 &&
		(len(req.TransferEncoding) == 0 || (len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"))
}

// exchange is one request on the fast path.
type exchange struct {
	r   *Router
	ctx context.Context
	w   *recorder
	req *http.Request
	l   *lease
	// start is when the request was sent on its way; deadline ends it.
	start    time.Time
	deadline time.Time
	head     []byte
	// hasBody and chunked describe the request body toward the instance.
	hasBody bool
	chunked bool
	// bodyTouched is set once anything read the request body; the request
	// is never retried after that.
	bodyTouched bool
	// bodyDone receives the body writer's result (requests with a body).
	bodyDone chan error
	// stop unregisters the cancellation hook of the current connection;
	// it reports false once the hook ran (the connection is then spoiled).
	stop func() bool
}

// forward proxies req over the fast path and reports true, or reports false
// without having sent anything when the request is one for the reverse
// proxy.
func (r *Router) forward(ctx context.Context, w *recorder, req *http.Request, l *lease, timeout time.Duration) bool {
	if !fastEligible(req) {
		return false
	}
	x := exchange{
		r: r, ctx: ctx, w: w, req: req, l: l,
		hasBody: req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0,
	}
	if !x.hasBody && req.ContentLength > 0 {
		return false // a length without a body: the transport's error
	}
	x.chunked = x.hasBody && req.ContentLength < 0
	hb := heads.Get().(*[]byte)
	defer heads.Put(hb)
	head, err := appendRequestHead((*hb)[:0], req, x.chunked)
	*hb = head[:0]
	if err != nil {
		return false
	}
	x.head = head
	x.start = time.Now()
	x.deadline = x.start.Add(timeout)

	uc, res, err := x.roundTrip()
	if err != nil {
		r.writeProxyError(w, l.svc.name, req.Host, err, x.cause())
		return true
	}
	x.respond(uc, res)
	return true
}

// cause is why the request ended early, if it did: the router shutting
// down, the client gone (the request's context), or the request timeout
// (the deadline on the connection or the dial). nil for a failure of the
// instance.
func (x *exchange) cause() error {
	if c := context.Cause(x.ctx); c != nil {
		return c
	}
	if !time.Now().Before(x.deadline) {
		return errRequestTimeout
	}
	return nil
}

// roundTrip sends the request and reads the response head, on a pooled
// connection or a new one. A connection that fails before anything came
// back is retried on another when that is safe (see retryable); a dial
// that fails moves the request to another instance (retryOnAnother), as on
// the reverse proxy's path.
func (x *exchange) roundTrip() (*upConn, *http.Response, error) {
	for {
		p := x.r.pool(x.l.b)
		uc := p.get(x.start)
		if uc == nil {
			var err error
			uc, err = x.r.dialUp(x.ctx, p, x.deadline)
			if err != nil {
				if !isDialError(err) || x.cause() != nil || x.bodyTouched || !x.r.retryOnAnother(x.ctx, x.l) {
					return nil, nil, fmt.Errorf("connecting to %s: %w", p.addr, err)
				}
				continue
			}
		}
		res, err := x.try(uc)
		if err == nil {
			x.l.b.inst.failures.Store(0)
			return uc, res, nil
		}
		x.stop()
		uc.close()
		if !x.retryable(uc, err) {
			return nil, nil, err
		}
	}
}

// retryable reports whether a failed attempt may be made again on another
// connection, following http.Transport: only on a connection that carried
// requests before (the instance may have closed it while idle), only when
// the instance sent nothing back, and only when the request is unchanged
// by the attempt: nothing of it was written, or it has no body and an
// idempotent method.
func (x *exchange) retryable(uc *upConn, err error) bool {
	if !uc.reused || uc.r.n > 0 || x.bodyTouched || x.cause() != nil {
		return false
	}
	if uc.w.n == 0 {
		return true
	}
	if x.hasBody {
		return false
	}
	switch x.req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := x.req.Header["Idempotency-Key"]
	_, ok2 := x.req.Header["X-Idempotency-Key"]
	return ok || ok2
}

// try makes one attempt on uc: it arms the request's deadline and
// cancellation on the connection, writes the request and reads the
// response head. 1xx responses are passed to the client as they come.
func (x *exchange) try(uc *upConn) (*http.Response, error) {
	uc.r.n, uc.w.n = 0, 0
	uc.c.SetDeadline(x.deadline)
	c := uc.c
	if x.ctx.Done() != nil {
		x.stop = context.AfterFunc(x.ctx, func() { c.SetDeadline(aLongTimeAgo) })
	} else {
		x.stop = func() bool { return true }
	}
	uc.bw.Write(x.head)
	if err := uc.bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the request: %w", err)
	}
	if x.hasBody {
		x.bodyTouched = true
		x.bodyDone = make(chan error, 1)
		go x.sendBody(uc)
	}
	uc.r.limit = maxResponseHeaderBytes
	for {
		res, err := http.ReadResponse(uc.br, x.req)
		if err != nil {
			if berr := x.bodyError(); berr != nil {
				return nil, berr
			}
			return nil, fmt.Errorf("reading the response: %w", err)
		}
		if res.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("the instance switched protocols on a request that asked for no upgrade")
		}
		if res.StatusCode >= 200 {
			uc.r.limit = 1<<63 - 1
			return res, nil
		}
		// An informational response (103 Early Hints, say) goes to the
		// client as ReverseProxy passes it, and resets the head limit.
		x.writeInformational(res)
		uc.r.limit = maxResponseHeaderBytes
	}
}

// bodyError returns the body writer's error if it has finished with one.
func (x *exchange) bodyError() error {
	if x.bodyDone == nil {
		return nil
	}
	select {
	case err := <-x.bodyDone:
		x.bodyDone <- err // leave it for respond
		return err
	default:
		return nil
	}
}
