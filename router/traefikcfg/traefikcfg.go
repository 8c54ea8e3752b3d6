package traefikcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"

	"github.com/apprun/apprun/spec"
)

// DefaultPrefix starts every router and service name when Options.Prefix
// is empty.
const DefaultPrefix = "apprun"

// Options says how the routes become Traefik configuration.
type Options struct {
	// AppsDomain is the domain every service answers under, at
	// <service>.<AppsDomain>: the router's AppsDomain ("localhost" by
	// default there). Required.
	AppsDomain string
	// EntryPoints are the Traefik entry points the routers listen on, in
	// the edge's static configuration; empty means all of them.
	EntryPoints []string
	// TLS terminates TLS on the routers (with the edge's default
	// certificate or its TLS store).
	TLS bool
	// CertResolver names the edge's certificate resolver (ACME) that
	// obtains certificates for the routers' hosts. Setting it implies TLS.
	CertResolver string
	// Prefix starts every router and service name; empty means
	// DefaultPrefix. It must be lowercase letters, digits and '-', starting
	// with a letter or digit, so it can never hold '_', '@' or '.'.
	Prefix string
	// Skip, when set, is told about every part of the routes Build leaves
	// out and why (service is "" when the service name itself is bad).
	Skip func(service string, err error)
}

var (
	prefixRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	labelRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	instHostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$`)
)

// check reports why o cannot be used.
func (o Options) check() error {
	var errs []error
	if err := validateDomain(o.AppsDomain); err != nil {
		errs = append(errs, fmt.Errorf("appsDomain: %w", err))
	}
	if o.Prefix != "" && !prefixRE.MatchString(o.Prefix) {
		errs = append(errs, fmt.Errorf("prefix %q: use 1 to 63 lowercase letters, digits and '-'", o.Prefix))
	}
	for _, ep := range o.EntryPoints {
		if !isTraefikName(ep) {
			errs = append(errs, fmt.Errorf("entry point %q: must be non-empty letters, digits, '-' and '_'", ep))
		}
	}
	if o.CertResolver != "" && !isTraefikName(o.CertResolver) {
		errs = append(errs, fmt.Errorf("certResolver %q: must be letters, digits, '-' and '_'", o.CertResolver))
	}
	return errors.Join(errs...)
}

// isTraefikName reports whether s is a safe name of something in the edge's
// static configuration (an entry point, a resolver).
func isTraefikName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validateDomain checks an apps domain: lowercase DNS labels, without port
// or trailing dot; unlike a custom domain it may be a single label
// ("localhost").
func validateDomain(d string) error {
	if d == "" {
		return errors.New("must not be empty")
	}
	if len(d) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", d)
	}
	for l := range strings.SplitSeq(d, ".") {
		if !labelRE.MatchString(l) {
			return fmt.Errorf("%q is not a lowercase hostname: label %q is not a DNS label", d, l)
		}
	}
	return nil
}

// Build returns the Traefik dynamic configuration that routes like routes
// (see the package documentation for what it holds and how things are
// named). It is deterministic: the same routes in any order give the same
// configuration. It returns an error only when opts are unusable; bad parts
// of the routes are left out (and reported to opts.Skip). With no routes the
// configuration is empty but valid: {} (Traefik refuses {"http":{}}).
func Build(routes []spec.ServiceRoutes, opts Options) (*dynamic.Configuration, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("traefikcfg: %w", err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	skip := func(service string, err error) {
		if opts.Skip != nil {
			opts.Skip(service, err)
		}
	}

	// The services to export, by name, first listing wins.
	byName := make(map[string]spec.ServiceRoutes, len(routes))
	names := make([]string, 0, len(routes))
	for _, sr := range routes {
		if err := spec.ValidateName(sr.Service); err != nil {
			skip("", fmt.Errorf("service %q: %w", sr.Service, err))
			continue
		}
		if _, dup := byName[sr.Service]; dup {
			skip(sr.Service, fmt.Errorf("service %q is listed twice; the first listing is used", sr.Service))
			continue
		}
		byName[sr.Service] = sr
		names = append(names, sr.Service)
	}
	slices.Sort(names)

	// Host ownership, as the router decides it: default hosts first, then
	// custom domains to the first claimant in name order.
	owner := make(map[string]string, 2*len(names))
	hosts := make(map[string][]string, len(names))
	for _, name := range names {
		h := name + "." + opts.AppsDomain
		owner[h] = name
		hosts[name] = append(hosts[name], h)
	}
	for _, name := range names {
		for _, h := range byName[name].Hosts {
			h = strings.ToLower(strings.TrimRight(h, "."))
			if err := spec.ValidateHostname(h); err != nil {
				skip(name, fmt.Errorf("host: %w", err))
				continue
			}
			if o, taken := owner[h]; taken {
				if o != name {
					skip(name, fmt.Errorf("host %q belongs to service %q", h, o))
				}
				continue
			}
			owner[h] = name
			hosts[name] = append(hosts[name], h)
		}
	}

	cfg := &dynamic.Configuration{HTTP: &dynamic.HTTPConfiguration{}}
	routers := make(map[string]*dynamic.Router, len(names))
	services := make(map[string]*dynamic.Service, 2*len(names))
	for _, name := range names {
		sr := byName[name]
		base := prefix + "_" + name
		hs := hosts[name]
		slices.Sort(hs)
		r := &dynamic.Router{
			EntryPoints: slices.Clone(opts.EntryPoints),
			Service:     base,
			Rule:        hostRule(hs),
		}
		if opts.TLS || opts.CertResolver != "" {
			r.TLS = &dynamic.RouterTLSConfig{CertResolver: opts.CertResolver}
		}
		routers[base] = r

		allZero := true
		for _, rr := range sr.Revisions {
			if rr.Weight > 0 {
				allZero = false
			}
		}
		wrr := &dynamic.WeightedRoundRobin{}
		seenRev := map[string]bool{}
		for _, rr := range sr.Revisions {
			if rr.ID == "" || seenRev[rr.ID] {
				skip(name, fmt.Errorf("revision %q is empty or listed twice", rr.ID))
				continue
			}
			seenRev[rr.ID] = true
			if rr.Weight < 0 || rr.Weight > spec.MaxRouteWeight {
				skip(name, fmt.Errorf("revision %q: weight %d is out of range", rr.ID, rr.Weight))
				continue
			}
			lbName := base + "_" + encodeID(rr.ID)
			lb := &dynamic.ServersLoadBalancer{
				Strategy:       dynamic.BalancerStrategyP2C,
				PassHostHeader: new(true),
			}
			for _, a := range rr.Instances {
				u, err := serverURL(a)
				if err != nil {
					skip(name, fmt.Errorf("revision %q: %w", rr.ID, err))
					continue
				}
				if slices.ContainsFunc(lb.Servers, func(s dynamic.Server) bool { return s.URL == u }) {
					continue
				}
				lb.Servers = append(lb.Servers, dynamic.Server{URL: u})
			}
			services[lbName] = &dynamic.Service{LoadBalancer: lb}
			w := rr.Weight
			if allZero {
				w = 1
			}
			if w > 0 {
				wrr.Services = append(wrr.Services, dynamic.WRRService{Name: lbName, Weight: new(w)})
			}
		}
		if len(wrr.Services) > 0 {
			services[base] = &dynamic.Service{Weighted: wrr}
		} else {
			// Traefik refuses an empty "weighted": {}; a load balancer
			// without servers answers 503, as the router does for a
			// service with no revision taking traffic.
			services[base] = &dynamic.Service{LoadBalancer: &dynamic.ServersLoadBalancer{
				Strategy:       dynamic.BalancerStrategyP2C,
				PassHostHeader: new(true),
			}}
		}
	}
	if len(routers) == 0 {
		// Traefik's decoder refuses an empty "http": {}, so no routes is {}.
		return &dynamic.Configuration{}, nil
	}
	cfg.HTTP.Routers = routers
	cfg.HTTP.Services = services
	return cfg, nil
}

// hostRule returns the Traefik v3 rule matching any of hosts, which are
// validated DNS names (so they cannot hold a backquote).
func hostRule(hosts []string) string {
	var b strings.Builder
	for i, h := range hosts {
		if i > 0 {
			b.WriteString(" || ")
		}
		b.WriteString("Host(`")
		b.WriteString(h)
		b.WriteString("`)")
	}
	return b.String()
}

// encodeID writes a revision ID as a name part: bytes outside [A-Za-z0-9_]
// become '-' and two lowercase hex digits, so distinct IDs stay distinct and
// the result holds no '@' or '.'.
func encodeID(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "-%02x", c)
		}
	}
	return b.String()
}

// serverURL returns the http URL of the instance at addr (host:port).
func serverURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("instance %q is not host:port: %v", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", fmt.Errorf("instance %q: port must be between 1 and 65535", addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	} else if !instHostRE.MatchString(host) {
		return "", fmt.Errorf("instance %q: %q is neither a hostname nor an IP address", addr, host)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// Marshal returns cfg as the JSON Traefik's HTTP provider accepts (it reads
// JSON as YAML). Map keys come out sorted, so the same configuration always
// gives the same bytes and a polling edge reloads only on a change.
func Marshal(cfg *dynamic.Configuration) ([]byte, error) {
	if cfg == nil {
		cfg = &dynamic.Configuration{}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("traefikcfg: %w", err)
	}
	return b, nil
}
