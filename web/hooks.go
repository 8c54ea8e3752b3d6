package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/spec"
)

// Hooks checks webhook deliveries and deploys the commits they announce.
// The composition root implements it with package source/webhook (which
// web may not import) and the deployer.
type Hooks interface {
	// Verify returns nil when body was sent by provider and signed with
	// secret, checked in constant time over the raw bytes; an empty secret
	// never verifies.
	Verify(provider string, h http.Header, body []byte, secret string) error
	// Parse reads a verified delivery; an error means a malformed delivery
	// or an event other than a push or a ping, answered 400.
	Parse(provider string, h http.Header, body []byte) (HookEvent, error)
	// DeployCommit deploys ev.Commit of svc's source.repo. It returns once
	// recorded was called with the deployment as recorded in the store
	// (the build and rollout go on in the background, beyond ctx), or with
	// an error when the deployment failed before it was recorded.
	DeployCommit(ctx context.Context, svc spec.Service, ev HookEvent, recorded func(spec.Deployment)) error
}

// HookEvent is a verified webhook delivery (source/webhook's Event).
type HookEvent struct {
	Provider   string
	DeliveryID string
	// EventType is "push" or "ping".
	EventType string
	Ref       string
	// Branch is "" when Ref is not a branch (a tag).
	Branch string
	// Commit is 40 lowercase hex digits, "" when Deleted.
	Commit  string
	RepoURL string
	Deleted bool
}

// HookBodyLimit bounds a webhook body: GitHub's own cap of 25 MiB (the
// same as source/webhook.MaxBody, which a test in cmd/apprun holds it to).
const HookBodyLimit = 25 << 20

// hookProviders are the {provider} values of the webhook route.
var hookProviders = []string{"github", "gitlab", "gitea"}

// hookRoute is the webhook route: it takes no bearer token, since the
// provider cannot send one; the delivery's signature is its credential.
const hookRoute = "/api/v1/hooks/:provider/:name"

// IsSigned reports whether the route (method and path template, as in
// Routes) authenticates by a webhook signature instead of a token: without
// a valid signature it answers 401.
func (s *Server) IsSigned(method, path string) bool {
	return method == http.MethodPost && path == hookRoute
}

// hookResult is the answer to a delivery that was not refused: exactly one
// field is set.
type hookResult struct {
	// Deployment is the recorded deployment (202): it is building.
	Deployment *spec.Deployment `json:"deployment,omitempty"`
	// Duplicate: this delivery was seen before and started nothing.
	Duplicate bool `json:"duplicate,omitempty"`
	// Ignored says why a valid delivery deploys nothing (another branch, a
	// tag, a deleted branch, autoDeploy off).
	Ignored string `json:"ignored,omitempty"`
	// Ping answers the provider's test delivery.
	Ping bool `json:"ping,omitempty"`
}

// hookUnauthorized is a delivery without a valid signature.
func hookUnauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: msg}
}

// receiveHook is POST /api/v1/hooks/{provider}/{service}. The checks run in
// an order that tells an unauthenticated caller no more than whether the
// service exists and has a secret: nothing about the service's settings is
// looked at before the signature is verified.
func (s *Server) receiveHook(c echo.Context) error {
	provider := c.Param("provider")
	if !slices.Contains(hookProviders, provider) {
		return notFound("no webhook provider %q (github, gitlab or gitea)", clip(provider))
	}
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > HookBodyLimit {
		return tooLarge(HookBodyLimit)
	}
	// The route's body is bounded by the archive limit in limitBody; this
	// bounds it by the webhook limit, the tighter of the two.
	body, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, req.Body, HookBodyLimit))
	if err != nil {
		return fmt.Errorf("reading the webhook body: %w", err)
	}
	ctx := req.Context()
	svc, err := s.st.GetService(ctx, name)
	if err != nil {
		if errors.Is(err, spec.ErrNotFound) {
			return notFound("no service named %q", name)
		}
		return err
	}
	secret, err := s.st.WebhookSecret(ctx, name)
	if errors.Is(err, spec.ErrNotFound) {
		return hookUnauthorized("no webhook secret configured for this service")
	} else if err != nil {
		return err
	}
	if s.cfg.Hooks == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "this server does not take webhooks"}
	}
	if err := s.cfg.Hooks.Verify(provider, req.Header, body, secret); err != nil {
		return hookUnauthorized(err.Error())
	}
	ev, err := s.cfg.Hooks.Parse(provider, req.Header, body)
	if err != nil {
		return badRequest("", "%v", err)
	}
	log := s.log.With("service", name, "provider", provider, "delivery", ev.DeliveryID)
	ignore := func(format string, args ...any) error {
		why := fmt.Sprintf(format, args...)
		log.Info("webhook ignored", "reason", why)
		return c.JSON(http.StatusOK, hookResult{Ignored: why})
	}
	src := svc.Source
	switch {
	case ev.EventType == "ping":
		log.Info("webhook ping")
		return c.JSON(http.StatusOK, hookResult{Ping: true})
	case ev.Deleted:
		return ignore("the push deleted %s", ev.Ref)
	case ev.Branch == "":
		return ignore("%s is not a branch", ev.Ref)
	case ev.Branch != src.Branch:
		return ignore("branch %s is not the deploy branch %s", ev.Branch, src.Branch)
	case !src.AutoDeploy:
		return ignore("autoDeploy is off for this service")
	case src.Repo == "":
		return &apiError{status: http.StatusConflict, code: codeConflict, field: "source.repo",
			message: fmt.Sprintf("service %q has no source.repo to fetch the commit from; set it first", name)}
	}
	first, err := s.st.RecordDelivery(ctx, name, provider, ev.DeliveryID)
	if err != nil {
		return err
	}
	if !first {
		log.Info("webhook redelivery ignored")
		return c.JSON(http.StatusOK, hookResult{Duplicate: true})
	}
	got := make(chan spec.Deployment, 1)
	err = s.cfg.Hooks.DeployCommit(ctx, svc, ev, func(d spec.Deployment) {
		select {
		case got <- d:
		default:
		}
	})
	select {
	case d := <-got:
		log.Info("webhook deployment recorded", "deployment", d.ID, "commit", ev.Commit)
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/services/"+name+"/deployments/"+d.ID)
		return c.JSON(http.StatusAccepted, hookResult{Deployment: &d})
	default:
	}
	if err == nil {
		err = errors.New("the deployment was not recorded")
	}
	return fmt.Errorf("deploying %s of %s: %w", ev.Commit, name, err)
}

// webhookSecret is the answer of POST .../webhook-secret: the secret, shown
// this once, and the URL to give each provider.
type webhookSecret struct {
	Secret string            `json:"secret"`
	URLs   map[string]string `json:"urls"`
}

// rotateWebhookSecret is POST /api/v1/services/{name}/webhook-secret: a new
// random secret replaces the old one (deliveries signed with the old one
// are refused from now on).
func (s *Server) rotateWebhookSecret(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	// The body is optional; when sent it must be an empty object, so that
	// a client expecting to set fields learns it cannot.
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fmt.Errorf("reading request body: %w", err)
	}
	if len(data) > 0 {
		var in struct{}
		if err := decodeJSON(data, &in); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	if _, err := s.st.GetService(ctx, name); err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("making a webhook secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	if err := s.st.SetWebhookSecret(ctx, name, secret); err != nil {
		return err
	}
	s.log.Info("webhook secret set", "service", name)
	base := c.Scheme() + "://" + c.Request().Host
	out := webhookSecret{Secret: secret, URLs: map[string]string{}}
	for _, p := range hookProviders {
		out.URLs[p] = base + "/api/v1/hooks/" + p + "/" + name
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, out)
}
