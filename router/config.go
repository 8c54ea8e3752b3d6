package router

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config is the router's settings. The zero value is usable once SetDefaults
// has filled it in: every field has a default that serves one machine.
type Config struct {
	// AppsDomain is the domain under which every service answers, at
	// <service>.<AppsDomain>. Default "localhost".
	AppsDomain string
	// QueueDepth bounds, per revision, the requests waiting for an instance:
	// while the revision has none ready (scaled to zero, starting) or while
	// every instance is at its maxConcurrency. Past it a request gets 503
	// with Retry-After rather than overloading an instance. Default 1000,
	// so a burst of first requests to a cold service all wait.
	QueueDepth int
	// HoldTimeout is how long a request waits in that queue before it gets
	// 503 with Retry-After. Default 30 s, well past a container start.
	HoldTimeout time.Duration
	// DefaultRequestTimeout applies to services that publish none. Default
	// 120 s, App Runner's. It runs from the moment an instance is found:
	// the wait for one is bounded by HoldTimeout. Websockets are not
	// bounded by it (only by Shutdown).
	DefaultRequestTimeout time.Duration
	// DefaultBodyLimit is the largest request body accepted for services
	// that publish none, in bytes. Default 32 MiB; negative means no limit.
	DefaultBodyLimit int64
	// RetryBackoff is the pause before a request whose connection failed
	// (before any byte of it was sent) is tried on another instance.
	// Default 0: the other instance is tried at once.
	RetryBackoff time.Duration
	// DialTimeout bounds a connection to an instance. Instances are on this
	// machine or its network, so a healthy one answers in well under it.
	// Default 2 s.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle keep-alive connections the
	// router keeps to each instance. Go's default of 2 makes a busy
	// instance pay a new connection for most requests (about a third of the
	// throughput); default 1024.
	MaxIdleConnsPerHost int
	// ReadHeaderTimeout and MaxHeaderBytes bound slow and oversized request
	// headers on the server Serve runs. Defaults 10 s and 64 KiB.
	ReadHeaderTimeout time.Duration
	MaxHeaderBytes    int
	// IdleTimeout closes client keep-alive connections idle that long.
	// Default 2 min.
	IdleTimeout time.Duration
	// Poke is called, without blocking for long, when a request starts
	// waiting on a revision that has no ready instance, so the deployer can
	// scale it up at once instead of at its next tick. It is called at most
	// about once a second per revision. It may be nil.
	Poke func(service, revision string)
	// AccessLog receives one Combined Log Format line per request; nil
	// means no access log. Writes are serialised.
	AccessLog io.Writer
	// Registry receives the router's Prometheus metrics; nil means a
	// private registry nobody scrapes.
	Registry *prometheus.Registry
	// Now is the clock; default time.Now. Tests step it by hand.
	Now func() time.Time
}

// SetDefaults fills in every zero field.
func (c *Config) SetDefaults() {
	if c.AppsDomain == "" {
		c.AppsDomain = "localhost"
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = 1000
	}
	if c.HoldTimeout == 0 {
		c.HoldTimeout = 30 * time.Second
	}
	if c.DefaultRequestTimeout == 0 {
		c.DefaultRequestTimeout = 120 * time.Second
	}
	if c.DefaultBodyLimit == 0 {
		c.DefaultBodyLimit = 32 << 20
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 1024
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every setting that is out of range.
func (c Config) Validate() error {
	var errs []error
	if normalizeHost(c.AppsDomain) != c.AppsDomain {
		errs = append(errs, fmt.Errorf("appsDomain %q must be a lowercase hostname without port or trailing dot", c.AppsDomain))
	}
	if c.QueueDepth < 1 {
		errs = append(errs, fmt.Errorf("queueDepth must be at least 1, got %d", c.QueueDepth))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"holdTimeout", c.HoldTimeout}, {"defaultRequestTimeout", c.DefaultRequestTimeout},
		{"dialTimeout", c.DialTimeout}, {"readHeaderTimeout", c.ReadHeaderTimeout}, {"idleTimeout", c.IdleTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", d.name, d.v))
		}
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retryBackoff must not be negative, got %v", c.RetryBackoff))
	}
	if c.MaxIdleConnsPerHost < 1 {
		errs = append(errs, fmt.Errorf("maxIdleConnsPerHost must be at least 1, got %d", c.MaxIdleConnsPerHost))
	}
	if c.MaxHeaderBytes < 1024 {
		errs = append(errs, fmt.Errorf("maxHeaderBytes must be at least 1024, got %d", c.MaxHeaderBytes))
	}
	if c.Registry == nil || c.Now == nil {
		errs = append(errs, errors.New("registry and now must be set (call SetDefaults)"))
	}
	return errors.Join(errs...)
}
