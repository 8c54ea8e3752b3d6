package tls

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Manager. The zero value is not usable: DataDir is
// required. Everything else has a default that serves one machine offline.
type Config struct {
	// DataDir holds certificates, keys and ACME accounts in DataDir/certs
	// (certmagic's file storage: atomic writes, locks shared by processes)
	// and the local CA in DataDir/ca. Files are 0600, directories 0700.
	DataDir string

	// ACME, when set, makes an ACME CA the issuer. When nil the local CA
	// issues, so https works offline.
	ACME *ACMEConfig

	// Allowed is the permission check for on-demand certificates: it returns
	// nil only for a name the platform knows (a service's <name>.<apps
	// domain> or a verified custom domain). It is asked before every
	// on-demand issuance and before loading a certificate that is not in
	// memory, so it must be cheap (an in-memory lookup): it runs inside TLS
	// handshakes, once per handshake for a name without a certificate. A
	// refused name fails the handshake with no ACME order and no local-CA
	// issuance. Names given to Manage are not asked about. Nil refuses every
	// on-demand name.
	Allowed func(ctx context.Context, name string) error

	// HTTPPort and HTTPSPort are the ports the router's listeners are bound
	// to (0 means 80 and 443). ACME's HTTP-01 and TLS-ALPN-01 challenges are
	// answered on them, through HTTPHandler and TLSConfig.
	HTTPPort, HTTPSPort int

	// Log receives the Manager's records and certmagic's. Nil discards them.
	Log *slog.Logger

	// Registry, when set, gets apprun_certificate_expiry_seconds{name,issuer}
	// and apprun_certificate_renewal_failures_total{name}. They are
	// unregistered by Stop.
	Registry *prometheus.Registry
}

// ACMEConfig selects an ACME CA.
type ACMEConfig struct {
	// Directory is the CA's directory URL, e.g.
	// https://acme-v02.api.letsencrypt.org/directory.
	Directory string
	// Email is the account's contact; it may be empty.
	Email string
	// EAB is the external account binding some CAs require (ZeroSSL,
	// Google). Its MAC key is never logged.
	EAB *EAB
	// TrustedRoots verifies the directory's HTTPS certificate; nil uses the
	// system roots. Tests point it at their ACME server.
	TrustedRoots *x509.CertPool
	// DisableHTTP01 and DisableTLSALPN01 turn a challenge type off (not both).
	DisableHTTP01, DisableTLSALPN01 bool
}

// EAB is an ACME external account binding.
type EAB struct {
	KeyID  string
	MACKey string // base64url, as the CA hands it out; secret
}

// String keeps the MAC key out of logs and error messages.
func (e EAB) String() string { return fmt.Sprintf("{KeyID:%s MACKey:<redacted>}", e.KeyID) }

// GoString keeps the MAC key out of %#v.
func (e EAB) GoString() string { return e.String() }

// LogValue keeps the MAC key out of slog records.
func (e EAB) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", e.KeyID), slog.String("mac_key", "<redacted>"))
}

// SetDefaults fills in the zero fields that have a default.
func (c *Config) SetDefaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first field that makes c unusable.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("tls config: DataDir is required")
	}
	for _, p := range []int{c.HTTPPort, c.HTTPSPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("tls config: port %d out of range", p)
		}
	}
	if a := c.ACME; a != nil {
		u, err := url.Parse(a.Directory)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("tls config: ACME.Directory %q must be an https URL", a.Directory)
		}
		if a.DisableHTTP01 && a.DisableTLSALPN01 {
			return errors.New("tls config: ACME needs HTTP-01 or TLS-ALPN-01; both are disabled")
		}
		if e := a.EAB; e != nil && (e.KeyID == "" || e.MACKey == "") {
			return errors.New("tls config: ACME.EAB needs both KeyID and MACKey")
		}
	}
	return nil
}

// tuning holds what production leaves at its default and tests shorten.
type tuning struct {
	// checkInterval is certmagic's RenewCheckInterval: how often the cache
	// looks for certificates to renew. Certificates with less than five
	// intervals left count as emergencies, so short-lived test
	// certificates need a short interval.
	checkInterval time.Duration
	// retryTick is how often failed names are looked at for a retry and a
	// warning.
	retryTick time.Duration
	// warnEvery rate-limits the warning logged per name.
	warnEvery time.Duration
	// leafLifetime is the local CA's certificate lifetime.
	leafLifetime time.Duration
	// onDemandTimeout bounds the wait of a handshake for an issuance.
	onDemandTimeout time.Duration
	// disableARI turns off ACME Renewal Information (Pebble's ARI window is
	// the whole lifetime, which makes renewal times random in tests).
	disableARI bool
}

func (t *tuning) setDefaults() {
	if t.checkInterval <= 0 {
		t.checkInterval = 10 * time.Minute
	}
	if t.retryTick <= 0 {
		t.retryTick = min(t.checkInterval, time.Minute)
	}
	if t.warnEvery <= 0 {
		t.warnEvery = time.Hour
	}
	if t.leafLifetime <= 0 {
		t.leafLifetime = 7 * 24 * time.Hour
	}
	if t.onDemandTimeout <= 0 {
		t.onDemandTimeout = time.Minute
	}
}
