package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// Ownership checks of custom domains: the real web.DomainVerifier. It asks
// DNS for the TXT record and fetches the HTTP token at the same time;
// either one holding the domain's token is enough.
//
// The HTTP check fetches a URL whose host a user chose, from inside the
// control plane: a server-side request forgery waiting to happen. So the
// dialer refuses loopback, link-local, cloud metadata and unspecified
// addresses, checked in net.Dialer.Control on the address really dialled
// (after resolution, for every address tried), never by resolving first and
// dialling later, which a DNS answer that changes in between would defeat.
// Redirects are not followed (a redirect could point anywhere), no proxy is
// used, timeouts are short and at most 1 KiB of the body is read.

// Limits of one verification.
const (
	verifyDNSTimeout  = 5 * time.Second
	verifyDialTimeout = 3 * time.Second
	verifyHTTPTimeout = 6 * time.Second
	// verifyBodyLimit bounds the body read: a token is 32 characters.
	verifyBodyLimit = 1 << 10
)

// txtResolver is the part of *net.Resolver the verifier uses; tests fake it.
type txtResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// domainVerifyOptions configure newDomainVerifier. The zero value is the
// production setting.
type domainVerifyOptions struct {
	// AllowPrivate lets the HTTP check dial loopback, link-local and
	// unspecified addresses: for a development server whose domains
	// resolve to this machine, and for tests. Cloud metadata addresses stay
	// refused: no domain is verified by one.
	AllowPrivate bool
	// Resolver looks up TXT records; nil means net.DefaultResolver.
	Resolver txtResolver
	// httpPort replaces port 80 in the HTTP check (tests only: production
	// checks what the world sees, on port 80).
	httpPort string
}

// domainVerifier implements web.DomainVerifier.
type domainVerifier struct {
	resolver txtResolver
	client   *http.Client
	httpPort string
}

var _ web.DomainVerifier = (*domainVerifier)(nil)

func newDomainVerifier(opts domainVerifyOptions) *domainVerifier {
	res := opts.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	dialer := &net.Dialer{Timeout: verifyDialTimeout, Control: dialControl(opts.AllowPrivate)}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the check
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    verifyDialTimeout,
		ResponseHeaderTimeout:  verifyHTTPTimeout,
		MaxResponseHeaderBytes: 16 << 10,
		DisableKeepAlives:      true,
	}
	return &domainVerifier{
		resolver: res,
		client: &http.Client{
			Transport: tr,
			Timeout:   verifyHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		httpPort: opts.httpPort,
	}
}

// Verify returns nil when either proof holds d's token, and otherwise an
// error that says what each check looked at and found.
func (v *domainVerifier) Verify(ctx context.Context, d spec.Domain) error {
	if d.VerifyToken == "" {
		return errors.New("the domain has no verify token")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var txtErr, httpErr error
	// Whichever proof holds first ends the other.
	wg.Go(func() {
		if txtErr = v.checkTXT(ctx, d); txtErr == nil {
			cancel()
		}
	})
	wg.Go(func() {
		if httpErr = v.checkHTTP(ctx, d); httpErr == nil {
			cancel()
		}
	})
	wg.Wait()
	if txtErr == nil || httpErr == nil {
		return nil
	}
	return fmt.Errorf("%w; %w", txtErr, httpErr)
}

// checkTXT looks for the token among the TXT records of _apprun.NAME.
func (v *domainVerifier) checkTXT(ctx context.Context, d spec.Domain) error {
	name := web.VerifyTXTName(d.Name)
	ctx, cancel := context.WithTimeout(ctx, verifyDNSTimeout)
	defer cancel()
	recs, err := v.resolver.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("TXT %s: no record", name)
	case err != nil:
		return fmt.Errorf("TXT %s: %s", name, describeNetError(err))
	case len(recs) == 0:
		return fmt.Errorf("TXT %s: no record", name)
	}
	for _, r := range recs {
		if strings.TrimSpace(r) == d.VerifyToken {
			return nil
		}
	}
	found := make([]string, 0, 3)
	for i, r := range recs {
		if i == 3 {
			found = append(found, "…")
			break
		}
		found = append(found, fmt.Sprintf("%q", clipText(r, 64)))
	}
	return fmt.Errorf("TXT %s: %s, none is the token (found %s)", name, plural(len(recs), "record"), strings.Join(found, ", "))
}

// checkHTTP fetches http://NAME/.well-known/apprun-verify/TOKEN and wants
// 200 with the token as the body.
func (v *domainVerifier) checkHTTP(ctx context.Context, d spec.Domain) error {
	host := d.Name
	if v.httpPort != "" {
		host = net.JoinHostPort(d.Name, v.httpPort)
	}
	u := web.VerifyHTTPURL(host, d.VerifyToken)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %v", u, err)
	}
	req.Header.Set("User-Agent", "apprun-domain-verify/"+version)
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s", u, describeNetError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			return fmt.Errorf("%s: answered %s to %s (redirects are not followed)", u, resp.Status, clipText(loc, 120))
		}
		return fmt.Errorf("%s: answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, verifyBodyLimit))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %s", u, describeNetError(err))
	}
	if strings.TrimSpace(string(body)) != d.VerifyToken {
		return fmt.Errorf("%s: answered 200, but the body is not the token", u)
	}
	return nil
}

// describeNetError says in a few words what went wrong with a lookup or a
// fetch, without Go's layers of "Get ...: dial tcp ...:" context.
func describeNetError(err error) string {
	var blocked *blockedAddrError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &blocked):
		return blocked.Error()
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &dnsErr):
		return dnsErr.Err
	}
	// The innermost error is the one that says what happened.
	for {
		var ue *url.Error
		var oe *net.OpError
		switch {
		case errors.As(err, &ue):
			err = ue.Err
		case errors.As(err, &oe):
			err = oe.Err
		default:
			return err.Error()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// blockedAddrError is a dial refused because of where it would go.
type blockedAddrError struct {
	addr   netip.Addr
	reason string
}

func (e *blockedAddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s (%s address)", e.addr, e.reason)
}

// metadataAddrs are cloud instance metadata endpoints (AWS's IPv6 one; the
// IPv4 ones are in 169.254.0.0/16, link-local).
var metadataAddrs = []netip.Addr{netip.MustParseAddr("fd00:ec2::254")}

// linkLocal4 is checked by prefix as well as by IsLinkLocalUnicast, so the
// reason names the metadata range.
var linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")

// thisNetwork is 0.0.0.0/8: "this host on this network", which Linux
// dials as the local machine.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// blockedReason says why the verifier must not dial ip ("" when it may).
// Metadata addresses are refused even with allowPrivate.
func blockedReason(ip netip.Addr, allowPrivate bool) string {
	ip = ip.Unmap()
	switch {
	case linkLocal4.Contains(ip) || slices.Contains(metadataAddrs, ip.WithZone("")):
		return "link-local or cloud metadata"
	case allowPrivate:
		return ""
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsMulticast():
		return "multicast"
	}
	return ""
}

// dialControl is the net.Dialer.Control that refuses blocked addresses. It
// runs after resolution, on each address about to be dialled.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("dialing %s: %w", address, err)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("dialing %s: not an IP address", address)
		}
		if reason := blockedReason(ip, allowPrivate); reason != "" {
			return &blockedAddrError{addr: ip, reason: reason}
		}
		return nil
	}
}

// domainTokenHandler answers the HTTP ownership proof in front of the
// router: GET /.well-known/apprun-verify/TOKEN with Host NAME answers TOKEN
// when NAME is a pending custom domain whose token it is, and 404 otherwise.
// Every other request goes to next. The router does not route a pending
// domain, so without this the HTTP proof could never pass through apprun.
func domainTokenHandler(st store.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, web.VerifyHTTPPath)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		host := normalizeHost(r.Host)
		// Odd input (no Host, an IP, a 10 KB name) never reaches the store.
		if spec.ValidateHostname(host) != nil || token == "" || len(token) > 128 {
			http.NotFound(w, r)
			return
		}
		d, err := st.GetDomain(r.Context(), host)
		if err != nil && !errors.Is(err, spec.ErrNotFound) {
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if err != nil || d.Status != spec.DomainPending ||
			subtle.ConstantTimeCompare([]byte(token), []byte(d.VerifyToken)) != 1 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, d.VerifyToken)
	})
}

// normalizeHost is a Host header as a domain name: lowercase, without a
// port or a trailing dot.
func normalizeHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// clipText bounds outside text quoted in messages.
func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
