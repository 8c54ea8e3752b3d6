package tls

import (
	"context"
	ctls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"
)

// renewalRatio is the share of a certificate's lifetime left when its
// renewal becomes due. It is above a third so that renewal, which waits
// for the next check of the cache and for the CA, still starts with at
// least a third left (certmagic also counts a certificate valid through
// the second after NotAfter); for 90-day certificates that is 36 days
// ahead, six more than certmagic's default.
const renewalRatio = 0.4

// localIssuerName is CertStatus.Issuer for the local CA.
const localIssuerName = "local CA"

var (
	errNoSNI   = errors.New("tls: handshake without a server name (SNI)")
	errStopped = errors.New("tls: manager stopped")
)

// Manager keeps the certificates of one router. It is safe for concurrent
// use. Create it with New and release it with Stop.
type Manager struct {
	cfg        Config
	tune       tuning
	log        *slog.Logger
	issuerName string

	storage   *certmagic.FileStorage
	cache     *certmagic.Cache
	managed   *certmagic.Config     // names given to Manage: renewed in the background
	onDemand  *certmagic.Config     // any other name, behind Allowed
	acme      *certmagic.ACMEIssuer // answers HTTP-01 challenges; nil with the local CA
	local     *localCA              // nil with ACME
	issuerKey string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once

	// managedSet and backoff are read by every handshake without a lock and
	// rebuilt under mu when a name changes state, which is rare.
	managedSet atomic.Pointer[map[string]struct{}]
	backoff    atomic.Pointer[map[string]time.Time]

	mu    sync.Mutex
	names map[string]*nameState

	metrics *metrics
}

// New makes a Manager and starts its background work (renewals and
// retries); the Manager stops when ctx is done or Stop is called. Nothing
// is issued until a handshake or Manage asks for it; the local CA is
// created on first use.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	return newManager(ctx, cfg, tuning{})
}

func newManager(ctx context.Context, cfg Config, tune tuning) (*Manager, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tune.setDefaults()
	certDir := filepath.Join(cfg.DataDir, "certs")
	if err := mkdirPrivate(certDir); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		tune:    tune,
		log:     cfg.Log,
		storage: &certmagic.FileStorage{Path: certDir},
		names:   make(map[string]*nameState),
	}
	m.managedSet.Store(&map[string]struct{}{})
	m.backoff.Store(&map[string]time.Time{})

	zl := zapToSlog(cfg.Log.Handler())
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   m.configFor,
		RenewCheckInterval: tune.checkInterval,
		Logger:             zl,
	})
	base := certmagic.Config{
		RenewalWindowRatio: renewalRatio,
		OnEvent:            m.onEvent,
		ShouldEmitFunc:     shouldEmit,
		Storage:            m.storage,
		Logger:             zl,
		DisableARI:         tune.disableARI,
		// Let's Encrypt ended OCSP in 2025 and the local CA has none.
		OCSP: certmagic.OCSPConfig{DisableStapling: true},
	}
	if cfg.ACME == nil {
		caDir := filepath.Join(cfg.DataDir, "ca")
		if err := mkdirPrivate(caDir); err != nil {
			m.cache.Stop()
			return nil, err
		}
		m.local = &localCA{storage: &certmagic.FileStorage{Path: caDir}, leafLifetime: tune.leafLifetime}
		m.issuerName = localIssuerName
		base.Issuers = []certmagic.Issuer{m.local}
	} else {
		u, _ := url.Parse(cfg.ACME.Directory) // checked by Validate
		m.issuerName = u.Host
		base.Issuers = []certmagic.Issuer{}
	}
	managed, onDemand := base, base
	onDemand.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: m.decide}
	m.managed = certmagic.New(m.cache, managed)
	m.onDemand = certmagic.New(m.cache, onDemand)
	if a := cfg.ACME; a != nil {
		tmpl := certmagic.ACMEIssuer{
			CA:                      a.Directory,
			Email:                   a.Email,
			Agreed:                  true,
			TrustedRoots:            a.TrustedRoots,
			AltHTTPPort:             cfg.HTTPPort,
			AltTLSALPNPort:          cfg.HTTPSPort,
			DisableHTTPChallenge:    a.DisableHTTP01,
			DisableTLSALPNChallenge: a.DisableTLSALPN01,
			Logger:                  zl,
		}
		if a.EAB != nil {
			tmpl.ExternalAccount = &acme.EAB{KeyID: a.EAB.KeyID, MACKey: a.EAB.MACKey}
		}
		// Each certmagic.Config needs its own issuer (the issuer points back
		// at it); both share the storage, so either answers any challenge.
		m.acme = certmagic.NewACMEIssuer(m.managed, tmpl)
		m.managed.Issuers = []certmagic.Issuer{m.acme}
		m.onDemand.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(m.onDemand, tmpl)}
	}
	m.issuerKey = m.managed.Issuers[0].IssuerKey()

	if cfg.Registry != nil {
		m.metrics = newMetrics(m)
		if err := m.metrics.register(cfg.Registry); err != nil {
			m.cache.Stop()
			return nil, err
		}
	}

	m.ctx, m.cancel = context.WithCancel(ctx)
	ticker := time.NewTicker(tune.retryTick)
	m.wg.Go(func() {
		defer ticker.Stop()
		m.run(m.ctx, ticker.C)
	})
	context.AfterFunc(ctx, m.Stop)
	return m, nil
}

// Stop ends the background work, waits for the retries in flight and
// unregisters the metrics. Certificates in storage stay for the next
// Manager. Stop is idempotent.
func (m *Manager) Stop() {
	m.stop.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.cache.Stop()
		if m.metrics != nil {
			m.metrics.unregister(m.cfg.Registry)
		}
	})
}

// TLSConfig returns a new config for the router's HTTPS listener: TLS 1.2
// and up, ALPN h2 and http/1.1 (and acme-tls/1 for the TLS-ALPN-01
// challenge), certificates from GetCertificate.
func (m *Manager) TLSConfig() *ctls.Config {
	protos := []string{"h2", "http/1.1"}
	if m.acme != nil && !m.cfg.ACME.DisableTLSALPN01 {
		protos = append(protos, acmez.ACMETLS1Protocol)
	}
	return &ctls.Config{
		MinVersion:     ctls.VersionTLS12,
		NextProtos:     protos,
		GetCertificate: m.GetCertificate,
	}
}

// GetCertificate is TLSConfig's certificate source. A certificate in memory
// is served without touching storage; a managed name is served from the
// managed set; any other name is on demand: Allowed is asked, then storage,
// then the issuer, while the handshake waits. A name whose issuance failed
// recently fails at once (or keeps its still-valid certificate) until its
// back-off is over, so a flood of handshakes cannot hammer the CA. A
// handshake without SNI fails.
func (m *Manager) GetCertificate(hello *ctls.ClientHelloInfo) (*ctls.Certificate, error) {
	name := normalizeSNI(hello.ServerName)
	if name == "" {
		return nil, errNoSNI
	}
	if m.acme != nil && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol {
		return m.onDemand.GetCertificate(hello) // certmagic answers TLS-ALPN-01
	}
	if bo := *m.backoff.Load(); len(bo) > 0 {
		if until, ok := bo[name]; ok && time.Now().Before(until) {
			if c := m.cached(name); c != nil {
				return &c.Certificate, nil
			}
			return nil, fmt.Errorf("tls: no certificate for %s: issuance failed recently; next attempt after %s", name, until.Format(time.RFC3339))
		}
	}
	if _, ok := (*m.managedSet.Load())[name]; ok {
		if c, err := m.managed.GetCertificate(hello); err == nil {
			return c, nil
		}
		// Not obtained yet: fall back to on-demand issuance.
	}
	if m.ctx.Err() != nil {
		return nil, errStopped
	}
	parent := hello.Context()
	if parent == nil { // a ClientHelloInfo made outside crypto/tls
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, m.tune.onDemandTimeout)
	defer cancel()
	return m.onDemand.GetCertificateWithContext(stopOnFailure(ctx, cancel), hello)
}

// Manage sets the names whose certificates are kept in the background:
// new names are loaded from storage or obtained now (asynchronously: see
// Status), and renewed when 40 % of their lifetime is left; names missing
// from the set are no longer managed, and drop out of memory (a later
// handshake for one of them is on demand, behind Allowed). Names that are
// not valid host names are skipped and reported in the error; the others
// are managed all the same.
func (m *Manager) Manage(ctx context.Context, names []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.ctx.Err() != nil {
		return errStopped
	}
	var errs []error
	want := make(map[string]struct{}, len(names))
	for _, n := range names {
		nn, ok := normalizeHost(n, false)
		if !ok {
			errs = append(errs, fmt.Errorf("tls: %q is not a host name", n))
			continue
		}
		want[nn] = struct{}{}
	}

	type start struct {
		name string
		ctx  context.Context
	}
	var added []start
	var removed []certmagic.SubjectIssuer
	m.mu.Lock()
	for n, st := range m.names {
		if _, keep := want[n]; st.managed && !keep {
			st.managed = false
			st.cancel()
			removed = append(removed, certmagic.SubjectIssuer{Subject: n})
		}
	}
	for n := range want {
		st := m.stateLocked(n)
		if st.managed {
			continue
		}
		st.managed = true
		var c context.Context
		c, st.cancel = context.WithCancel(m.ctx)
		added = append(added, start{n, c})
	}
	m.publishLocked()
	m.mu.Unlock()

	if len(removed) > 0 {
		m.cache.RemoveManaged(removed)
	}
	for _, a := range added {
		// ManageAsync loads the certificate from storage or obtains one in
		// a goroutine of its own, with certmagic's retries; the retry loop
		// of this package shortens them for short-lived certificates.
		if err := m.managed.ManageAsync(a.ctx, []string{a.name}); err != nil {
			errs = append(errs, fmt.Errorf("tls: managing %s: %w", a.name, err))
		}
	}
	return errors.Join(errs...)
}

// RootPEM returns the local CA's root certificate (PEM), creating the CA
// if this is its first use, for `apprun ca cert` and trust stores.
func (m *Manager) RootPEM() ([]byte, error) {
	if m.local == nil {
		return nil, fmt.Errorf("tls: certificates come from the ACME CA at %s, not from the local CA", m.cfg.ACME.Directory)
	}
	return m.local.rootPEM(m.ctx)
}

// decide is certmagic's on-demand DecisionFunc: Allowed, except that a
// managed name is always allowed (it is waiting for its first certificate).
func (m *Manager) decide(ctx context.Context, name string) error {
	if _, ok := (*m.managedSet.Load())[name]; ok {
		return nil
	}
	if m.cfg.Allowed == nil {
		return errors.New("no on-demand names are allowed")
	}
	return m.cfg.Allowed(ctx, name)
}

// configFor is the cache's GetConfigForCert: managed names are renewed by
// the cache's maintenance, the others during handshakes.
func (m *Manager) configFor(cert certmagic.Certificate) (*certmagic.Config, error) {
	set := *m.managedSet.Load()
	for _, n := range cert.Names {
		if _, ok := set[n]; ok {
			return m.managed, nil
		}
	}
	return m.onDemand, nil
}

// cached returns the certificate in memory for name that expires last, if
// it has not expired.
func (m *Manager) cached(name string) *certmagic.Certificate {
	if c := m.newest(name); c != nil && !time.Now().After(c.Leaf.NotAfter) {
		return c
	}
	return nil
}

// newest returns the certificate in memory for name that expires last,
// expired or not.
func (m *Manager) newest(name string) *certmagic.Certificate {
	var best *certmagic.Certificate
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf == nil || (best != nil && !c.Leaf.NotAfter.After(best.Leaf.NotAfter)) {
			continue
		}
		best = &c
	}
	return best
}

// normalizeSNI is certmagic's normalisation of a server name (its cache is
// keyed by it) plus the trailing dot. It allocates only for a name with
// upper case.
func normalizeSNI(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return strings.ToLower(s)
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("tls: securing %s: %w", dir, err)
	}
	return nil
}
