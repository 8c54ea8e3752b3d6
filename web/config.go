package web

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultBodyLimit bounds a request body. Every body the API accepts is a
// small JSON object or an apprun.yaml; 1 MiB leaves room for large env maps
// while keeping a hostile client from making the server buffer gigabytes.
const DefaultBodyLimit = 1 << 20

// DefaultArchiveLimit bounds an uploaded source archive (compressed).
const DefaultArchiveLimit = 256 << 20

// Config is the API server's configuration. The zero value is usable after
// SetDefaults.
type Config struct {
	// BodyLimit is the largest request body accepted, in bytes; a larger
	// one is answered 413 before the handler runs (or as soon as the limit
	// is crossed, for a body without Content-Length). 0 means
	// DefaultBodyLimit.
	BodyLimit int64
	// ArchiveLimit is the largest source archive accepted (the routes that
	// take one); 0 means DefaultArchiveLimit.
	ArchiveLimit int64
	// Builder builds uploaded sources; nil answers those routes 503.
	Builder Builder
	// Deployer deploys, rolls back, scales and runs services and reads
	// their logs and instances; nil answers those routes 503 (and DELETE of
	// a service then only removes it from the store).
	Deployer Deployer
	// Traefik renders the routing table for Traefik; nil answers 503.
	Traefik TraefikConfig
	// Registry receives the HTTP metrics and the Go and process collectors,
	// and is what GET /metrics serves. nil means a new registry, so that
	// tests and several servers in one process do not collide on the global
	// default registry.
	Registry *prometheus.Registry
	// ServiceURL, when set, returns the public URL of a service
	// ("https://web.apps.example.com"); service responses then carry it as
	// "url". It lives here rather than in the store because the apps domain
	// is a server setting, not a property of the service.
	ServiceURL func(name string) string
	// AppsDomain is the domain under which services answer by name
	// (<service>.<AppsDomain>). A custom domain under it is refused: it
	// would shadow a service's own URL. "" checks nothing.
	AppsDomain string
	// DomainVerifier checks ownership of custom domains; nil answers the
	// verify route 503.
	DomainVerifier DomainVerifier
	// Certificates, when set, adds each custom domain's certificate
	// (issuer, notAfter, daysLeft, warning) to the domain responses.
	Certificates Certificates
	// Hooks verifies webhook deliveries and deploys their commits; nil
	// answers the webhook route 503 (after its 404 and 401 checks).
	Hooks Hooks
	// Version is the apprun version, reported by /healthz so that an
	// operator can tell which build answers. (The OpenAPI document's
	// info.version is the API's version, v1, not the binary's.)
	Version string
}

// SetDefaults fills every zero field with its default.
func (c *Config) SetDefaults() {
	if c.BodyLimit == 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.ArchiveLimit == 0 {
		c.ArchiveLimit = DefaultArchiveLimit
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.ArchiveLimit < 0 {
		errs = append(errs, fmt.Errorf("web: ArchiveLimit must not be negative, got %d", c.ArchiveLimit))
	}
	if c.BodyLimit < 0 {
		errs = append(errs, fmt.Errorf("web: BodyLimit must not be negative, got %d", c.BodyLimit))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("web: Registry must be set (call SetDefaults)"))
	}
	return errors.Join(errs...)
}
