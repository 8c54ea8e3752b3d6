package tls

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// HTTPHandler is the handler for the router's port-80 listener. It answers
// ACME HTTP-01 challenges (for names of this Manager's ACME issuer, or any
// issuer sharing its storage); every other request goes to next, or, when
// next is nil, is redirected with 308 to
// https://<host>[:<httpsPort>]<path>?<query>, the port left out when
// httpsPort is 0 or 443. The redirect never leaves the request's host: it
// is built from the normalised Host (lowercase, port and trailing dot
// stripped, IDNA to ASCII) and the path always starts with exactly one
// "/"; a Host that is not a valid host name (an IP address, userinfo, a
// bad label) gets 400.
func (m *Manager) HTTPHandler(httpsPort int, next http.Handler) http.Handler {
	if next == nil {
		next = redirectHandler(httpsPort)
	}
	if m.acme == nil || m.cfg.ACME.DisableHTTP01 {
		return next
	}
	return m.acme.HTTPChallengeHandler(next)
}

// redirectHandler redirects every request to HTTPS on the same host.
func redirectHandler(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc, ok := redirectLocation(r.Host, r.URL, httpsPort)
		if !ok {
			http.Error(w, "400 bad request: invalid Host", http.StatusBadRequest)
			return
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// redirectLocation is the HTTPS URL for a request to hostport with URL u,
// or false when hostport is not a valid host name. Only the host comes
// from hostport and only the path and query from u, so neither an
// absolute-form request target nor a path like //evil.com or /\evil.com
// can name another host. (For an absolute-form request Go's server sets
// r.Host to the target's authority, as RFC 9112 §3.2.2 requires; that is
// the host the router routes by, so the redirect stays on it.)
func redirectLocation(hostport string, u *url.URL, httpsPort int) (string, bool) {
	host, ok := normalizeHost(hostport, true)
	if !ok || (u != nil && u.User != nil) {
		// RFC 9110 §4.2.4: userinfo in an http(s) URI is an error.
		return "", false
	}
	var b strings.Builder
	b.WriteString("https://")
	b.WriteString(host)
	if httpsPort != 0 && httpsPort != 443 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(httpsPort))
	}
	b.WriteByte('/')
	if u != nil {
		// EscapedPath escapes '\' and control bytes; the leading slashes
		// go so that the path cannot read as an authority.
		writeSafe(&b, strings.TrimLeft(u.EscapedPath(), "/"))
		if u.RawQuery != "" {
			b.WriteByte('?')
			writeSafe(&b, u.RawQuery)
		}
	}
	return b.String(), true
}

// writeSafe writes s percent-encoding what must not appear raw in a
// Location header: controls, space, non-ASCII, '\' and '#'.
func writeSafe(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// normalizeHost returns the canonical form of a host name: lowercase ASCII
// (IDNA), no trailing dot, and with withPort no port. It refuses anything
// that is not a DNS host name: IP addresses, userinfo, empty or overlong
// labels, characters outside letters, digits and '-'.
func normalizeHost(s string, withPort bool) (string, bool) {
	if s == "" || len(s) > 512 {
		return "", false
	}
	if withPort {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			for _, c := range s[i+1:] {
				if c < '0' || c > '9' {
					return "", false
				}
			}
			s = s[:i]
		}
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii || strings.Contains(s, "xn--") {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", false
		}
		s = strings.ToLower(a)
	}
	if !validHostname(s) {
		return "", false
	}
	return s, true
}

// validHostname reports whether s is a lowercase DNS host name: labels of
// 1–63 letters, digits and inner hyphens, 253 bytes at most, and a last
// label that is not all digits (so no IPv4 address passes).
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labelStart, digitsOnly := 0, true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n := i - labelStart
			if n == 0 || n > 63 || s[labelStart] == '-' || s[i-1] == '-' {
				return false
			}
			if i == len(s) && digitsOnly {
				return false
			}
			labelStart, digitsOnly = i+1, true
			continue
		}
		switch c := s[i]; {
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z', c == '-':
			digitsOnly = false
		default:
			return false
		}
	}
	return true
}
