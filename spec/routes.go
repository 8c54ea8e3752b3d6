package spec

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// ServiceRoutes is what the deployer publishes to the router for one
// service: the hosts it answers at, its per-request limits, and the ready
// instances of each revision that takes traffic. It is a complete
// replacement, never a delta: publishing it again with fewer instances is how
// an instance stops receiving new requests.
type ServiceRoutes struct {
	// Service is the service name; the service answers at
	// <Service>.<apps domain>.
	Service string `json:"service"`
	// ServiceID is the store's ID of the service, carried for logs and
	// metrics; routing never depends on it.
	ServiceID string `json:"serviceId,omitempty"`
	// Hosts are the custom domains attached to the service (lowercase, no
	// port, no trailing dot, as ValidateHostname wants them).
	Hosts []string `json:"hosts,omitempty"`
	// MaxConcurrency is the most requests one instance serves at once
	// (Scaling.MaxConcurrency); 0 means the default of DefaultScaling.
	MaxConcurrency int `json:"maxConcurrency,omitempty"`
	// RequestTimeout bounds one request from its first byte to the end of
	// the response; 0 means the router's default (App Runner's 120 s).
	RequestTimeout time.Duration `json:"requestTimeout,omitempty"`
	// BodyLimit is the largest request body accepted, in bytes; 0 means the
	// router's default.
	BodyLimit int64 `json:"bodyLimit,omitempty"`
	// Revisions are the revisions that take traffic, each with its share.
	Revisions []RevisionRoutes `json:"revisions"`
}

// RevisionRoutes is one revision of a service as the router sees it.
type RevisionRoutes struct {
	// ID is the revision's ID.
	ID string `json:"id"`
	// Weight is the revision's share of the service's traffic, relative to
	// the other revisions' weights. When every weight is 0 the revisions
	// share the traffic equally, so a single revision needs no weight.
	Weight int `json:"weight"`
	// Instances are the host:port addresses of the revision's ready
	// instances. It may be empty: the revision is scaled to zero or its
	// instances are starting, and the router holds its requests until one
	// is published.
	Instances []string `json:"instances,omitempty"`
}

// MaxRouteWeight bounds a revision's weight so that a sum of weights never
// overflows (100 is the usual scale, as a percentage).
const MaxRouteWeight = 1_000_000

// Validate returns every problem with the routes.
func (s ServiceRoutes) Validate() error {
	var ps Problems
	if err := ValidateName(s.Service); err != nil {
		ps.Add("service", "%v", err)
	}
	seen := map[string]bool{}
	for i, h := range s.Hosts {
		f := fmt.Sprintf("hosts[%d]", i)
		if err := ValidateHostname(h); err != nil {
			ps.Add(f, "%v", err)
		} else if seen[h] {
			ps.Add(f, "host %q is listed twice", h)
		}
		seen[h] = true
	}
	if s.MaxConcurrency < 0 || s.MaxConcurrency > MaxConcurrencyLimit {
		ps.Add("maxConcurrency", "must be between 0 (the default) and %d, got %d", MaxConcurrencyLimit, s.MaxConcurrency)
	}
	if s.RequestTimeout < 0 {
		ps.Add("requestTimeout", "must not be negative, got %v", s.RequestTimeout)
	}
	if s.BodyLimit < 0 {
		ps.Add("bodyLimit", "must not be negative, got %d", s.BodyLimit)
	}
	revs := map[string]bool{}
	for i, r := range s.Revisions {
		f := fmt.Sprintf("revisions[%d]", i)
		switch {
		case r.ID == "":
			ps.Add(f+".id", "must not be empty")
		case revs[r.ID]:
			ps.Add(f+".id", "revision %q is listed twice", r.ID)
		}
		revs[r.ID] = true
		if r.Weight < 0 || r.Weight > MaxRouteWeight {
			ps.Add(f+".weight", "must be between 0 and %d, got %d", MaxRouteWeight, r.Weight)
		}
		addrs := map[string]bool{}
		for j, a := range r.Instances {
			fi := fmt.Sprintf("%s.instances[%d]", f, j)
			if err := validateHostPort(a); err != nil {
				ps.Add(fi, "%v", err)
			} else if addrs[a] {
				ps.Add(fi, "instance %q is listed twice", a)
			}
			addrs[a] = true
		}
	}
	return ps.Err()
}

// validateHostPort reports why a is not a host:port the router can dial.
func validateHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", a, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be between 1 and 65535", a)
	}
	return nil
}
