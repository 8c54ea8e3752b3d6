package router

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// errUseProxy marks a request the fast path leaves to
// httputil.ReverseProxy: one it does not carry (upgrades, Expect,
// trailers, CONNECT) or one whose head would need the transport's
// conversions or errors (a host to punycode, a query to clean, an invalid
// header). Nothing was sent when it is returned.
var errUseProxy = errors.New("request left to the reverse proxy")

// hopHeaders are the hop-by-hop headers httputil.ReverseProxy removes from
// requests and responses (RFC 9110, 7.6.1, and older ones still sent).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// framingHeaders are written by the fast path itself, never copied: the
// body's framing toward the instance is the router's, whatever the client
// sent, so no length the client declared can desynchronise the instance's
// connection. Host and User-Agent are written apart, as net/http does.
var framingHeaders = []string{"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"}

// skipped reports whether the request header k is not copied as it is.
func skipped(k string, connTokens []string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	for _, h := range framingHeaders {
		if k == h {
			return true
		}
	}
	for _, t := range connTokens {
		if strings.EqualFold(k, t) {
			return true
		}
	}
	return isForwarding(k)
}

// spoofableByLen indexes spoofable by name length, so isForwarding
// compares a header name with the one or two names of its length only.
var spoofableByLen = func() map[int][]string {
	m := map[int][]string{}
	for n := range spoofable {
		m[len(n)] = append(m[len(n)], n)
	}
	return m
}()

// isForwarding is stripForwarding's test for one name, without allocating:
// any case, '_' read as '-'.
func isForwarding(k string) bool {
	const prefix = "x-forwarded-"
	if len(k) >= len(prefix) && dashFoldEqual(k[:len(prefix)], prefix) {
		return true
	}
	for _, n := range spoofableByLen[len(k)] {
		if dashFoldEqual(k, n) {
			return true
		}
	}
	return false
}

// dashFoldEqual reports whether s equals the lowercase name want, ignoring
// case and reading '_' in s as '-'.
func dashFoldEqual(s, want string) bool {
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// connectionTokens returns the header names the client listed in
// Connection: hop-by-hop, so not forwarded (RFC 9110, 7.6.1).
func connectionTokens(h http.Header) []string {
	var out []string
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// appendRequestHead writes the request line and headers the fast path
// sends to an instance: what httputil.ReverseProxy with rewrite() and
// http.Transport would send, byte for byte up to header order. The client's
// headers are copied minus the hop-by-hop ones, minus every forwarding
// header in any spelling, and the router's X-Forwarded-For/Host/Proto are
// added. The body is framed with chunked encoding when chunked is set (its
// length is unknown), else with req.ContentLength. It returns errUseProxy
// for anything it does not write the transport's way.
func appendRequestHead(b []byte, req *http.Request, chunked bool) ([]byte, error) {
	if !httpguts.ValidHeaderFieldName(req.Method) || !validHost(req.Host) || req.URL == nil || req.URL.Opaque != "" {
		return b, errUseProxy
	}
	if !cleanQuery(req.URL.RawQuery) {
		return b, errUseProxy
	}
	uri := req.URL.RequestURI()
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f {
			return b, errUseProxy
		}
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\n"...)
	// ReverseProxy sends no User-Agent when the client sent none; the
	// transport sends the first one only.
	if ua := req.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		if !httpguts.ValidHeaderFieldValue(ua[0]) {
			return b, errUseProxy
		}
		b = appendField(b, "User-Agent", ua[0])
	}
	switch {
	case chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case req.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	case req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH":
		// Many servers expect a length for these methods (net/http's rule).
		b = append(b, "Content-Length: 0\r\n"...)
	}
	tokens := connectionTokens(req.Header)
	for k, vs := range req.Header {
		if skipped(k, tokens) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return b, errUseProxy
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, errUseProxy
			}
			b = appendField(b, k, v)
		}
	}
	// Tell the app that trailers are supported when the client did
	// (ReverseProxy's rule: Te is hop-by-hop otherwise).
	if headerHasToken(req.Header, "Te", "trailers") {
		b = append(b, "Te: trailers\r\n"...)
	}
	// rewrite(): ProxyRequest.SetXForwarded over a header stripped of every
	// forwarding header.
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		if !httpguts.ValidHeaderFieldValue(ip) {
			return b, errUseProxy
		}
		b = appendField(b, "X-Forwarded-For", ip)
	}
	b = appendField(b, "X-Forwarded-Host", req.Host)
	if req.TLS == nil {
		b = append(b, "X-Forwarded-Proto: http\r\n\r\n"...)
	} else {
		b = append(b, "X-Forwarded-Proto: https\r\n\r\n"...)
	}
	return b, nil
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, strings.Trim(v, " \t")...)
	return append(b, "\r\n"...)
}

// validHost accepts the plain ASCII hosts the transport writes as they
// are; anything else (empty, non-ASCII to punycode, an IPv6 zone) goes to
// the reverse proxy.
func validHost(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// cleanQuery reports whether ReverseProxy would forward the query as it is
// (its cleanQueryParams re-encodes one with ';', a bad escape or more
// than 10,000 parameters; the fast path leaves those to it).
func cleanQuery(s string) bool {
	if strings.Count(s, "&") >= 1000 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
