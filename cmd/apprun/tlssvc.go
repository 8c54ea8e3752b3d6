package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	rtls "github.com/apprun/apprun/router/tls"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// tlsSettings are the HTTPS settings of the server.
type tlsSettings struct {
	// HTTPSAddr is where the router answers HTTPS ("" for none).
	HTTPSAddr string `yaml:"httpsAddr"`
	// ACME, when its directory is set, gets certificates from an ACME CA
	// (Let's Encrypt, ZeroSSL, a private step-ca) and makes plain HTTP
	// redirect to HTTPS. Without it, apprun's local CA issues, and HTTP
	// keeps serving apps too (a laptop, a LAN).
	ACME acmeSettings `yaml:"acme"`
}

type acmeSettings struct {
	Directory string `yaml:"directory"`
	Email     string `yaml:"email"`
	// EABKeyID and EABMACKey are the external account binding some CAs
	// require. The MAC key is a secret: prefer APPRUN_ACME_EAB_MAC_KEY to
	// the file.
	EABKeyID  string `yaml:"eabKeyID"`
	EABMACKey string `yaml:"eabMACKey"`
}

// names is the permission check and the list of names to manage: every
// service's <name>.<apps domain> and every verified custom domain. It is
// a snapshot refreshed from the store (Allowed runs inside handshakes and
// must be an in-memory lookup), so a name the store does not know can
// never cause an issuance.
type names struct {
	st         store.Store
	appsDomain string
	log        *slog.Logger

	mu  sync.RWMutex
	set map[string]bool
}

func (n *names) allowed(_ context.Context, name string) error {
	n.mu.RLock()
	ok := n.set[strings.ToLower(strings.TrimSuffix(name, "."))]
	n.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%q is neither a service's name nor a verified custom domain", name)
	}
	return nil
}

// refresh reads the names from the store; it returns them sorted.
func (n *names) refresh(ctx context.Context) ([]string, error) {
	svcs, err := n.st.ListServices(ctx)
	if err != nil {
		return nil, err
	}
	doms, err := n.st.ListDomains(ctx, "")
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, s := range svcs {
		set[s.Name+"."+n.appsDomain] = true
	}
	for _, d := range doms {
		if d.Status == spec.DomainVerified {
			set[d.Name] = true
		}
	}
	n.mu.Lock()
	n.set = set
	n.mu.Unlock()
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// syncNames keeps the manager's managed names equal to the store's, every
// interval, until ctx ends. Managed names are obtained and renewed in the
// background: certificates never wait for a handshake to be renewed.
func (n *names) syncNames(ctx context.Context, m *rtls.Manager, every time.Duration) error {
	var last []string
	for {
		list, err := n.refresh(ctx)
		if err != nil {
			n.log.Warn("reading the names to keep certificates for", "err", err)
		} else if !slices.Equal(list, last) {
			if err := m.Manage(ctx, list); err != nil && ctx.Err() == nil {
				n.log.Warn("managing certificates", "err", err)
			} else {
				last = list
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// newTLS makes the certificate manager of the router's listeners.
func newTLS(ctx context.Context, cfg serverConfig, st store.Store, httpLn, httpsLn net.Listener, reg *prometheus.Registry, log *slog.Logger) (*rtls.Manager, *names, error) {
	n := &names{st: st, appsDomain: cfg.AppsDomain, log: log}
	if _, err := n.refresh(ctx); err != nil {
		return nil, nil, fmt.Errorf("reading the names to keep certificates for: %w", err)
	}
	tc := rtls.Config{
		DataDir:   cfg.DataDir,
		Allowed:   n.allowed,
		HTTPPort:  port(httpLn),
		HTTPSPort: port(httpsLn),
		Log:       log,
		Registry:  reg,
	}
	if a := cfg.TLS.ACME; a.Directory != "" {
		tc.ACME = &rtls.ACMEConfig{Directory: a.Directory, Email: a.Email}
		if a.EABKeyID != "" || a.EABMACKey != "" {
			tc.ACME.EAB = &rtls.EAB{KeyID: a.EABKeyID, MACKey: a.EABMACKey}
		}
	}
	m, err := rtls.New(ctx, tc)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up TLS: %w", err)
	}
	if tc.ACME == nil {
		// Made now rather than at the first handshake, so that
		// `apprun ca cert` works as soon as the server runs.
		if _, err := m.RootPEM(); err != nil {
			m.Stop()
			return nil, nil, fmt.Errorf("setting up the local CA: %w", err)
		}
		log.Info("HTTPS certificates come from apprun's local CA; trust its root with `apprun ca cert`")
	}
	return m, n, nil
}

func port(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// certStatus adapts the manager's status to the API's.
type certStatus struct{ m *rtls.Manager }

func (c certStatus) Status(names ...string) []web.CertStatus {
	var out []web.CertStatus
	for _, s := range c.m.Status(names...) {
		cs := web.CertStatus{Name: s.Name, Issuer: s.Issuer, NotAfter: s.NotAfter, Warning: s.Warning}
		if !s.NotAfter.IsZero() {
			cs.DaysLeft = time.Until(s.NotAfter).Hours() / 24
		}
		out = append(out, cs)
	}
	return out
}

// errNoLocalCA is `apprun ca cert` on a server that uses ACME.
var errNoLocalCA = errors.New("this server gets certificates from an ACME CA; there is no local CA root to trust")
