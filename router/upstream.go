package router

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"syscall"
	"time"
)

// Sizes of the fast path's per-connection buffers: a request head and the
// chunk framing of a streamed body fit the writer; the reader matches what
// the transport used, so a response body is read in few syscalls.
const (
	upWriteBuffer = 8 << 10
	upReadBuffer  = 32 << 10
	// upIdleTimeout closes a pooled connection nobody used for that long,
	// as http.Transport's IdleConnTimeout did.
	upIdleTimeout = 90 * time.Second
	// maxResponseHeaderBytes bounds a response head (1xx ones included)
	// read from an instance, http.Transport's default: an app must not make
	// the router buffer without end.
	maxResponseHeaderBytes = 10 << 20
)

var errResponseHeaderTooLarge = fmt.Errorf("response headers exceeded %d bytes", maxResponseHeaderBytes)

// connPool keeps the idle keep-alive connections of the fast path
// (forward.go) to one instance address. It lives in the instance's
// counters, so it survives table swaps and goes with the instance. It is a
// stack: the connection used last is used next, so a burst's extra
// connections sit at the bottom and age out.
type connPool struct {
	addr string
	max  int

	mu     sync.Mutex
	idle   []*upConn
	timer  *time.Timer // sweeps connections idle past upIdleTimeout
	armed  bool
	closed bool
}

// upConn is one connection to an instance with its buffers. Only one
// request uses it at a time; the pool hands it over.
type upConn struct {
	// pool is where the connection goes back to: its instance's.
	pool *connPool
	c    net.Conn
	rc   syscall.RawConn // for the liveness peek; nil when not a TCP conn
	r    connReader
	w    connWriter
	br   *bufio.Reader
	bw   *bufio.Writer
	// idleAt is when it went back to the pool; reused is set once it
	// carried a request, which is when a failure may mean the instance
	// closed it while idle (and a retry on a fresh one is safe).
	idleAt time.Time
	reused bool
	// peek's scratch space and result, kept here so a peek allocates
	// nothing.
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekN   int
	peekErr error
}

// connReader counts the bytes read from an instance, so a failure can
// tell "nothing came back" (the instance closed an idle connection) from a
// response cut short, and bounds a response head.
type connReader struct {
	c     net.Conn
	n     int64
	limit int64
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit <= 0 {
		return 0, errResponseHeaderTooLarge
	}
	if int64(len(p)) > r.limit {
		p = p[:r.limit]
	}
	n, err := r.c.Read(p)
	r.n += int64(n)
	r.limit -= int64(n)
	return n, err
}

// connWriter counts the bytes written, so a failed write of a request that
// reached nobody can be retried.
type connWriter struct {
	c net.Conn
	n int64
}

func (w *connWriter) Write(p []byte) (int, error) {
	n, err := w.c.Write(p)
	w.n += int64(n)
	return n, err
}

func newUpConn(c net.Conn) *upConn {
	uc := &upConn{c: c}
	uc.r = connReader{c: c, limit: math.MaxInt64}
	uc.w = connWriter{c: c}
	uc.br = bufio.NewReaderSize(&uc.r, upReadBuffer)
	uc.bw = bufio.NewWriterSize(&uc.w, upWriteBuffer)
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			uc.rc = rc
			uc.peekFn = uc.peek
		}
	}
	return uc
}

func (uc *upConn) close() { uc.c.Close() }

// usable reports whether an idle connection can carry a request: the
// instance has not closed it and has sent nothing unasked (a server that
// writes "408 Request Timeout" before closing an idle connection, say),
// which would otherwise be read as the answer to the next request.
// http.Transport learns both from the goroutine it keeps reading every
// idle connection; the fast path has none, so it peeks, without blocking,
// when it takes one.
func (uc *upConn) usable() bool {
	if uc.br.Buffered() > 0 {
		return false
	}
	if uc.rc == nil {
		return true
	}
	if err := uc.rc.Read(uc.peekFn); err != nil {
		return false
	}
	return peekIdle(uc.peekN, uc.peekErr)
}

func (uc *upConn) peek(fd uintptr) bool {
	uc.peekN, uc.peekErr = peekFD(fd, uc.peekBuf[:])
	return true // never wait for readability: the answer is needed now
}

// get returns an idle connection that is still usable, or nil.
func (p *connPool) get(now time.Time) *upConn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(uc.idleAt) < upIdleTimeout && uc.usable() {
			return uc
		}
		uc.close()
	}
}

// put returns a connection whose last response was read to its end. Past
// the pool's size, or once the pool is closed, it is closed instead.
func (p *connPool) put(uc *upConn, now time.Time) {
	uc.idleAt = now
	uc.reused = true
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		uc.close()
		return
	}
	p.idle = append(p.idle, uc)
	if !p.armed {
		p.armed = true
		if p.timer == nil {
			p.timer = time.AfterFunc(upIdleTimeout, p.sweep)
		} else {
			p.timer.Reset(upIdleTimeout)
		}
	}
	p.mu.Unlock()
}

// sweep closes the connections idle past upIdleTimeout (the oldest are at
// the bottom of the stack) and re-arms itself while any stay idle, so an
// instance nobody calls any more does not hold sockets open.
func (p *connPool) sweep() {
	now := time.Now()
	p.mu.Lock()
	p.armed = false
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleAt) >= upIdleTimeout {
		p.idle[i].close()
		i++
	}
	if i > 0 {
		n := copy(p.idle, p.idle[i:])
		clear(p.idle[n:])
		p.idle = p.idle[:n]
	}
	if len(p.idle) > 0 && !p.closed {
		p.armed = true
		p.timer.Reset(upIdleTimeout - now.Sub(p.idle[0].idleAt))
	}
	p.mu.Unlock()
}

// closeIdle closes every idle connection and makes the pool close those
// returned later: the instance left the table, or the router shuts down.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	p.closed = true
	for _, uc := range p.idle {
		uc.close()
	}
	clear(p.idle)
	p.idle = p.idle[:0]
	if p.timer != nil {
		p.timer.Stop()
		p.armed = false
	}
	p.mu.Unlock()
}

// pool returns the instance's connection pool, made on first use.
func (r *Router) pool(b *backend) *connPool {
	if p := b.inst.pool.Load(); p != nil {
		return p
	}
	p := &connPool{addr: b.addr, max: r.cfg.MaxIdleConnsPerHost}
	if b.inst.pool.CompareAndSwap(nil, p) {
		return p
	}
	return b.inst.pool.Load()
}

// dialUp connects to an instance for the fast path, bounded by the
// router's DialTimeout and the request's deadline. Its errors are
// *net.OpError with Op "dial", which isDialError recognises for the retry
// on another instance.
func (r *Router) dialUp(ctx context.Context, p *connPool, deadline time.Time) (*upConn, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := r.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	uc := newUpConn(c)
	uc.pool = p
	return uc, nil
}

// closeIdleUpstreams closes the fast path's idle connections to every
// instance (at shutdown).
func (r *Router) closeIdleUpstreams() {
	r.mu.Lock()
	pools := make([]*connPool, 0, len(r.instances))
	for _, in := range r.instances {
		if p := in.pool.Load(); p != nil {
			pools = append(pools, p)
		}
	}
	r.mu.Unlock()
	for _, p := range pools {
		p.closeIdle()
	}
}
