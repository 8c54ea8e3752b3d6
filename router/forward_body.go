package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"time"
)

// respond passes the response to the client: headers minus the hop-by-hop
// ones, the body as it comes (flushed at once when its length is unknown
// or it is an event stream, as ReverseProxy does), then trailers. The
// connection goes back to the pool only when the response was read to its
// end and nothing spoiled it.
func (x *exchange) respond(uc *upConn, res *http.Response) {
	w := x.w
	dropHopByHop(res.Header)
	h := w.Header()
	copyHeader(h, res.Header)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	var rc *http.ResponseController
	if res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type")) {
		rc = http.NewResponseController(w)
		rc.Flush()
	}
	buf := buffers.Get().(*[]byte)
	rerr, werr := copyBody(w, res.Body, *buf, rc)
	buffers.Put(buf)
	if rerr != nil || werr != nil {
		x.stop()
		uc.close()
		if rerr != nil && !errors.Is(rerr, context.Canceled) {
			x.r.log.Warn("reading the response body from the instance", "service", x.l.svc.name, "host", x.req.Host, "err", rerr)
		}
		// Abort the client's connection, as ReverseProxy does under a
		// server: a response cut short must not look complete.
		if x.req.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	res.Body.Close() // at EOF already; this fills res.Trailer
	x.release(uc, res)

	if len(res.Trailer) > 0 {
		// Force chunking, so net/http does not compute a length for a
		// short body and drop the trailers.
		http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		copyHeader(h, res.Trailer)
		return
	}
	for k, vv := range res.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

// release returns the connection to its pool if it can carry another
// request: the cancellation hook did not fire, the body (if any) was sent
// whole, the instance did not ask to close, sent nothing past the response,
// and the request's deadline has not passed. Otherwise it is closed.
func (x *exchange) release(uc *upConn, res *http.Response) {
	ok := x.stop()
	if x.bodyDone != nil {
		select {
		case err := <-x.bodyDone:
			ok = ok && err == nil
		default:
			// The instance answered before reading the whole body: the
			// writer still holds the connection.
			ok = false
		}
	}
	if !ok || res.Close || uc.br.Buffered() > 0 {
		uc.close()
		return
	}
	if now := time.Now(); now.Before(x.deadline) && uc.c.SetDeadline(time.Time{}) == nil {
		uc.pool.put(uc, now)
		return
	}
	uc.close()
}

// writeInformational passes a 1xx response to the client the way
// ReverseProxy's Got1xxResponse hook does.
func (x *exchange) writeInformational(res *http.Response) {
	h := x.w.Header()
	copyHeader(h, res.Header)
	x.w.WriteHeader(res.StatusCode)
	// WriteHeader does not clear the map for 1xx responses.
	clear(h)
}

// sendBody streams the request body to the instance, on its own goroutine
// so the response can be read at the same time, and reports the result on
// x.bodyDone. A body it cannot read (the client went away, or sent more
// than the limit) spoils the connection, so the response read stops too.
// It is not waited for when the instance answers first: like the
// transport's writeLoop, it may be blocked reading a slow client, and the
// connection it writes to is closed then.
func (x *exchange) sendBody(uc *upConn) {
	buf := buffers.Get().(*[]byte)
	err := x.writeBody(uc, *buf)
	buffers.Put(buf)
	x.bodyDone <- err
	if err != nil {
		uc.c.SetDeadline(aLongTimeAgo)
	}
}

func (x *exchange) writeBody(uc *upConn, buf []byte) error {
	body := x.req.Body
	if x.chunked {
		// Each chunk is flushed as it comes, as the transport does, so a
		// streamed upload reaches the app as it is sent.
		cw := httputil.NewChunkedWriter(flushWriter{uc.bw})
		if rerr, werr := copyBody(cw, body, buf, nil); rerr != nil || werr != nil {
			return bodyErr(rerr, werr)
		}
		cw.Close()
		uc.bw.WriteString("\r\n")
		if err := uc.bw.Flush(); err != nil {
			return fmt.Errorf("writing the request body: %w", err)
		}
		return nil
	}
	n := x.req.ContentLength
	lr := &io.LimitedReader{R: body, N: n}
	if rerr, werr := copyBody(uc.bw, lr, buf, nil); rerr != nil || werr != nil {
		return bodyErr(rerr, werr)
	}
	if lr.N > 0 {
		return fmt.Errorf("reading the request body: ContentLength=%d with body length %d", n, n-lr.N)
	}
	if k, _ := body.Read(buf[:1]); k > 0 {
		return fmt.Errorf("reading the request body: longer than its ContentLength=%d", n)
	}
	if err := uc.bw.Flush(); err != nil {
		return fmt.Errorf("writing the request body: %w", err)
	}
	return nil
}

func bodyErr(rerr, werr error) error {
	if rerr != nil {
		return fmt.Errorf("reading the request body: %w", rerr)
	}
	return fmt.Errorf("writing the request body: %w", werr)
}

// flushWriter flushes after every write: under the chunked writer, after
// every chunk.
type flushWriter struct {
	bw interface {
		io.Writer
		Flush() error
	}
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.bw.Write(p)
	if err == nil {
		err = f.bw.Flush()
	}
	return n, err
}

// copyBody copies src to dst through buf until src ends, flushing after
// each write when rc is set. It returns src's error (EOF excluded) or
// dst's, apart, so a caller can tell which side failed.
func copyBody(dst io.Writer, src io.Reader, buf []byte, rc *http.ResponseController) (rerr, werr error) {
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			nw, err := dst.Write(buf[:nr])
			if err != nil {
				return nil, err
			}
			if nw != nr {
				return nil, io.ErrShortWrite
			}
			if rc != nil {
				rc.Flush()
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// copyHeader adds src's values to dst. A name dst lacks takes src's slice
// as it is: src (a response just read) is not used after.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// dropHopByHop removes the hop-by-hop headers of a response, those its
// Connection header names first (ReverseProxy's removeHopByHopHeaders).
func dropHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}

// isEventStream reports whether a Content-Type is text/event-stream,
// whatever its parameters: such a response is flushed as it comes.
func isEventStream(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}
