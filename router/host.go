package router

import (
	"net"
	"strings"
)

// normalizeHost turns a Host header (or an SNI name) into the form the
// routing table is keyed by: lowercase, without port, without the trailing
// dot(s) of a fully qualified name. "App.Example.COM", "app.example.com." and
// "app.example.com:443" all become "app.example.com", so they can never route
// differently. An IPv6 literal keeps its brackets off: "[::1]:80" → "::1".
func normalizeHost(h string) string {
	if h == "" {
		return ""
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimRight(h, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = strings.TrimRight(h[1:len(h)-1], ".")
	}
	// A bracket left over ("[[::1]]", "a]b") is no host anything can be
	// routed by; mapping it to "" keeps the function idempotent, which the
	// routing table's keys rely on.
	if strings.ContainsAny(h, "[]") {
		return ""
	}
	// Most hosts arrive lowercase already; skip the allocation then.
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
