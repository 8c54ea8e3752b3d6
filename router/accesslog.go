package router

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// recorder notes the status and size of a response for the access log and
// the metrics. It unwraps for http.ResponseController, so the proxy's
// flushes (SSE) and hijacks (websockets) reach the real connection.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64

	// conn is the client's connection once the proxy hijacked it for an
	// upgrade (a websocket), so the tunnel can be ended from the
	// instance's side (see tunnel.go).
	connMu sync.Mutex
	conn   net.Conn
}

// Hijack hands the connection to the proxy and keeps a hold of it.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.connMu.Lock()
		w.conn = c
		w.connMu.Unlock()
	}
	return c, brw, err
}

// closeConn closes the hijacked connection, if any.
func (w *recorder) closeConn() {
	w.connMu.Lock()
	c := w.conn
	w.connMu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status the client got. An upgraded connection is answered by
// the proxy on the hijacked connection, which the recorder does not see.
func (w *recorder) code(req *http.Request) int {
	switch {
	case w.status != 0:
		return w.status
	case isUpgrade(req):
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}

// logAccess writes one line in the Combined Log Format (Apache's and
// nginx's default, which every log tool reads):
//
//	host - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "referer" "agent"
//
// The request line, referer and agent are the client's: quotes, backslashes
// and control bytes in them are escaped so a client cannot forge a line.
func (r *Router) logAccess(req *http.Request, w *recorder, start time.Time) {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	b := make([]byte, 0, 256)
	b = append(b, host...)
	b = append(b, " - - ["...)
	b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, req.Method+" "+req.RequestURI+" "+req.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(w.code(req)), 10)
	b = append(b, ' ')
	if w.bytes == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, w.bytes, 10)
	}
	b = append(b, " \""...)
	b = appendEscaped(b, orDash(req.Referer()))
	b = append(b, "\" \""...)
	b = appendEscaped(b, orDash(req.UserAgent()))
	b = append(b, "\"\n"...)
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if _, err := r.cfg.AccessLog.Write(b); err != nil {
		r.log.Warn("writing the access log", "err", err)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const hexDigits = "0123456789abcdef"

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}
