package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// Ownership proofs. A custom domain is verified when either holds the
// domain's token: the TXT record VerifyTXTName(name), or the body of
// VerifyHTTPURL(name, token) (which apprun's own router answers once the
// name's DNS points at it). The instructions the API gives and the
// verifier the composition root supplies both use these, so they cannot
// disagree.
const (
	// VerifyTXTPrefix is the label in front of the domain for the TXT record.
	VerifyTXTPrefix = "_apprun."
	// VerifyHTTPPath is the path prefix of the HTTP proof; the token follows.
	VerifyHTTPPath = "/.well-known/apprun-verify/"
)

// VerifyTXTName is the name of the TXT record that proves ownership of domain.
func VerifyTXTName(domain string) string { return VerifyTXTPrefix + domain }

// VerifyHTTPURL is the URL whose body proves ownership of domain.
func VerifyHTTPURL(domain, token string) string { return "http://" + domain + VerifyHTTPPath + token }

// verifyTimeout bounds one verification, whatever the verifier's own
// timeouts: the client waits for the answer.
const verifyTimeout = 20 * time.Second

// DomainVerifier checks that whoever attached a custom domain controls it.
type DomainVerifier interface {
	// Verify returns nil when d.Name proves ownership with d.VerifyToken
	// (see VerifyTXTName and VerifyHTTPURL). Any other answer means "not
	// verified", and its message is shown to the user: it should say what
	// was checked and what was found ("TXT _apprun.www.example.com: no
	// record; http://www.example.com/...: connection refused").
	Verify(ctx context.Context, d spec.Domain) error
}

// Certificates reports the TLS certificates the server holds.
type Certificates interface {
	// Status returns what is known of the certificates for names; a name
	// without a certificate may be left out.
	Status(names ...string) []CertStatus
}

// CertStatus describes the certificate held for one name.
type CertStatus struct {
	Name     string
	Issuer   string
	NotAfter time.Time
	// DaysLeft is the time until NotAfter, in days (negative once expired).
	DaysLeft float64
	// Warning is set when the certificate needs attention (expiring soon,
	// renewal failing); empty when all is well.
	Warning string
}

// domainResponse is a custom domain as the API shows it: the stored domain,
// how to prove ownership while it is pending, and its certificate when the
// server knows one.
type domainResponse struct {
	spec.Domain
	Instructions *domainInstructions `json:"instructions,omitempty"`
	Issuer       string              `json:"issuer,omitempty"`
	NotAfter     *time.Time          `json:"notAfter,omitempty"`
	DaysLeft     *float64            `json:"daysLeft,omitempty"`
	Warning      string              `json:"warning,omitempty"`
}

// domainInstructions are the two ways to prove ownership; either is enough.
type domainInstructions struct {
	// TXTName and TXTValue are the DNS record to create.
	TXTName  string `json:"txtName"`
	TXTValue string `json:"txtValue"`
	// HTTPURL must answer 200 with the token as its body; apprun's router
	// does so by itself once the name's DNS points at this server.
	HTTPURL string `json:"httpURL"`
}

// domainInput is the body of POST .../domains.
type domainInput struct {
	Name string `json:"name"`
}

// domainsJSON renders domains, with the certificate status of all of them
// asked for at once.
func (s *Server) domainsJSON(ds []spec.Domain) []domainResponse {
	certs := map[string]CertStatus{}
	if s.cfg.Certificates != nil && len(ds) > 0 {
		names := make([]string, len(ds))
		for i, d := range ds {
			names[i] = d.Name
		}
		for _, cs := range s.cfg.Certificates.Status(names...) {
			certs[cs.Name] = cs
		}
	}
	out := make([]domainResponse, 0, len(ds))
	for _, d := range ds {
		r := domainResponse{Domain: d}
		if d.Status == spec.DomainPending {
			r.Instructions = &domainInstructions{
				TXTName:  VerifyTXTName(d.Name),
				TXTValue: d.VerifyToken,
				HTTPURL:  VerifyHTTPURL(d.Name, d.VerifyToken),
			}
		}
		if cs, ok := certs[d.Name]; ok {
			r.Issuer, r.Warning = cs.Issuer, cs.Warning
			if !cs.NotAfter.IsZero() {
				notAfter, days := cs.NotAfter.UTC(), cs.DaysLeft
				r.NotAfter, r.DaysLeft = &notAfter, &days
			}
		}
		out = append(out, r)
	}
	return out
}

func (s *Server) domainJSON(d spec.Domain) domainResponse { return s.domainsJSON([]spec.Domain{d})[0] }

// listDomains lists the custom domains of every service, or of the one
// named by ?service=.
func (s *Server) listDomains(c echo.Context) error {
	ctx := c.Request().Context()
	service := c.QueryParam("service")
	if service != "" {
		if spec.ValidateName(service) != nil {
			return notFound("no service named %q (names are lowercase DNS labels)", clip(service))
		}
		// As for deployments: a filter on a service that does not exist is
		// a 404, not an empty list.
		if _, err := s.st.GetService(ctx, service); err != nil {
			return err
		}
	}
	ds, err := s.st.ListDomains(ctx, service)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"domains": s.domainsJSON(ds)})
}

// listServiceDomains lists one service's custom domains, in its order.
func (s *Server) listServiceDomains(c echo.Context) error {
	service, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	ds, err := s.st.ListDomains(c.Request().Context(), service)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"domains": s.domainsJSON(ds)})
}

// addDomain attaches a custom domain to a service, pending until verified.
func (s *Server) addDomain(c echo.Context) error {
	service, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var in domainInput
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	if err := s.validateDomain("name", in.Name); err != nil {
		return err
	}
	d, err := s.st.AddDomain(c.Request().Context(), service, in.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/services/"+service+"/domains/"+d.Name)
	return c.JSON(http.StatusCreated, s.domainJSON(d))
}

// validateDomain reports why name cannot be a custom domain: not a
// hostname, or under the apps domain, where service names answer (a custom
// domain there would shadow or hijack another service's URL).
func (s *Server) validateDomain(field, name string) error {
	if err := spec.ValidateHostname(name); err != nil {
		return spec.Problems{{Field: field, Message: err.Error()}}
	}
	if apps := s.cfg.AppsDomain; apps != "" && (name == apps || strings.HasSuffix(name, "."+apps)) {
		return spec.Problems{{Field: field, Message: fmt.Sprintf("%q is under the apps domain %s, where services answer by name; use a domain of your own", name, apps)}}
	}
	return nil
}

// appsDomainProblems reports the custom domains of svc that are under the
// apps domain, for the service routes that set the whole list.
func (s *Server) appsDomainProblems(svc spec.Service) spec.Problems {
	var ps spec.Problems
	for i, d := range svc.Domains {
		if spec.ValidateHostname(d) != nil {
			continue // Validate reports it
		}
		if err := s.validateDomain(fmt.Sprintf("domains[%d]", i), d); err != nil {
			more, _ := spec.AsProblems(err)
			ps = append(ps, more...)
		}
	}
	return ps
}

// serviceDomain resolves the :name and :domain parameters to a domain of
// that service, or a 404.
func (s *Server) serviceDomain(c echo.Context) (spec.Domain, error) {
	service, err := nameParam(c, "service")
	if err != nil {
		return spec.Domain{}, err
	}
	name := c.Param("domain")
	if spec.ValidateHostname(name) != nil {
		return spec.Domain{}, notFound("no domain named %q (domains are lowercase hostnames)", clip(name))
	}
	ctx := c.Request().Context()
	d, err := s.st.GetDomain(ctx, name)
	if errors.Is(err, spec.ErrNotFound) || err == nil && d.Service != service {
		// Say which is missing: the service, or its domain.
		if _, serr := s.st.GetService(ctx, service); serr != nil {
			return spec.Domain{}, serr
		}
		return spec.Domain{}, notFound("service %q has no domain %q", service, name)
	}
	return d, err
}

func (s *Server) getDomain(c echo.Context) error {
	d, err := s.serviceDomain(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.domainJSON(d))
}

// removeDomain detaches a custom domain; the router stops answering for it.
func (s *Server) removeDomain(c echo.Context) error {
	d, err := s.serviceDomain(c)
	if err != nil {
		return err
	}
	if err := s.st.RemoveDomain(c.Request().Context(), d.Service, d.Name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// verifyDomain checks ownership of a pending domain and records it. A
// domain already verified is answered as is, without checking again. A
// failed check is a 422 that says what was looked at and what was found,
// and changes nothing.
func (s *Server) verifyDomain(c echo.Context) error {
	if s.cfg.DomainVerifier == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "this server has no domain verifier configured"}
	}
	d, err := s.serviceDomain(c)
	if err != nil {
		return err
	}
	if d.Status == spec.DomainVerified {
		return c.JSON(http.StatusOK, s.domainJSON(d))
	}
	ctx := c.Request().Context()
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	err = s.cfg.DomainVerifier.Verify(vctx, d)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the client went away; nothing to tell it
		}
		s.log.Info("domain not verified", "service", d.Service, "domain", d.Name, "err", err)
		return &apiError{
			status:  http.StatusUnprocessableEntity,
			code:    codeVerificationFailed,
			message: fmt.Sprintf("could not verify %s: %v", d.Name, err),
		}
	}
	v, err := s.st.VerifyDomain(ctx, d.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.domainJSON(v))
}
