package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/apprun/apprun/store"
	"github.com/labstack/echo/v4"
)

// Server is the HTTP API. It holds no state of its own beyond metrics: every
// request reads and writes through the store, so several servers may share
// one store.
type Server struct {
	cfg     Config
	st      store.Store
	log     *slog.Logger
	e       *echo.Echo
	metrics *httpMetrics
	// public holds the routes ("GET /healthz") that need no token. It is
	// filled from the route table, so the list cannot drift from what is
	// registered; the OpenAPI test checks the document against it.
	public map[string]bool
	// paths holds every registered route template, to tell a request that
	// matched a route from one echo answers 404 or 405 (whose c.Path() is
	// only the nearest node of the tree and must not become a metric label).
	paths map[string]bool
	// archiveRoutes take a source archive: their bodies are bounded by
	// Config.ArchiveLimit instead of BodyLimit.
	archiveRoutes map[string]bool
}

// New builds the API server over st. cfg is defaulted and validated here, so
// callers may pass a zero Config.
func New(cfg Config, st store.Store, log *slog.Logger) (*Server, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("web: a store is required")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		cfg:    cfg,
		st:     st,
		log:    log,
		e:      echo.New(),
		public: map[string]bool{},
		paths:  map[string]bool{},

		archiveRoutes: map[string]bool{},
	}
	m, err := newHTTPMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	e := s.e
	e.HideBanner = true
	e.HidePort = true
	// echo's own logger would write to stdout behind slog's back; nothing in
	// this package uses it, so silence it.
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	// Order matters: observe is outermost so it times and counts every
	// request, including the ones that panic or fail auth; recover turns a
	// panic into a 500 before observe sees it; auth runs before the body
	// limit so an anonymous client learns it needs a token, not that its
	// body is too big.
	e.Use(s.observe, s.recoverPanic, s.authenticate, s.limitBody)
	s.routes()
	return s, nil
}

// Handler returns the server as an http.Handler (the echo instance).
func (s *Server) Handler() http.Handler { return s.e }

// Routes returns every registered route (method, path template with :param
// placeholders). Tests and the CLI's documentation generator walk it.
func (s *Server) Routes() []*echo.Route {
	var out []*echo.Route
	for _, r := range s.e.Routes() {
		// echo records its special not-found routes in the same table under
		// a pseudo-method; they are not part of the API.
		if r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, r)
	}
	return out
}

// IsPublic reports whether the route (method and path template, as in
// Routes) is served without a token.
func (s *Server) IsPublic(method, path string) bool { return s.public[method+" "+path] }

// add registers a route; public routes skip authentication.
func (s *Server) add(method, path string, h echo.HandlerFunc, public bool) {
	s.e.Add(method, path, h)
	s.paths[path] = true
	if public {
		s.public[method+" "+path] = true
	}
}

// routes is the whole API surface in one place; openapi.json mirrors it (a
// test keeps the two in step).
func (s *Server) routes() {
	const pub, auth = true, false
	get, post, put, patch, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete

	s.add(get, "/healthz", s.healthz, pub)
	s.add(get, "/readyz", s.readyz, pub)
	s.add(get, "/metrics", echo.WrapHandler(s.metrics.handler), pub)
	s.add(get, "/api/v1/openapi.json", s.openAPI, pub)

	const svc = "/api/v1/services/:name"
	s.add(get, "/api/v1/services", s.listServices, auth)
	s.add(post, "/api/v1/services", s.createService, auth)
	s.add(get, svc, s.getService, auth)
	s.add(patch, svc, s.patchService, auth)
	s.add(del, svc, s.deleteService, auth)

	s.add(get, svc+"/env", s.getEnv, auth)
	s.add(put, svc+"/env", s.putEnv, auth)
	s.add(del, svc+"/env/:key", s.deleteEnv, auth)

	s.add(get, svc+"/secrets", s.getSecrets, auth)
	s.add(put, svc+"/secrets", s.putSecrets, auth)
	s.add(del, svc+"/secrets/:key", s.deleteSecret, auth)

	s.add(get, svc+"/deployments", s.listDeployments, auth)
	s.add(get, svc+"/deployments/:id", s.getDeployment, auth)
	s.add(get, svc+"/revisions", s.listRevisions, auth)
	s.add(get, svc+"/revisions/:id", s.getRevision, auth)
	s.add(post, svc+"/deployments", s.createDeployment, auth)
	s.archiveRoutes[svc+"/deployments"] = true
	s.add(post, svc+"/rollback", s.rollback, auth)
	s.add(put, svc+"/formation", s.putFormation, auth)
	s.add(get, svc+"/logs", s.getLogs, auth)
	s.add(get, svc+"/instances", s.getInstances, auth)

	s.add(get, "/api/v1/networks", s.listNetworks, auth)
	s.add(post, "/api/v1/networks", s.createNetwork, auth)
	s.add(get, "/api/v1/networks/:name", s.getNetwork, auth)
	s.add(del, "/api/v1/networks/:name", s.deleteNetwork, auth)

	s.add(get, "/api/v1/domains", s.listDomains, auth)
	s.add(get, svc+"/domains", s.listServiceDomains, auth)
	s.add(post, svc+"/domains", s.addDomain, auth)
	s.add(get, svc+"/domains/:domain", s.getDomain, auth)
	s.add(del, svc+"/domains/:domain", s.removeDomain, auth)
	s.add(post, svc+"/domains/:domain/verify", s.verifyDomain, auth)

	s.add(get, "/api/v1/tokens", s.listTokens, auth)
	s.add(post, "/api/v1/tokens", s.createToken, auth)
	s.add(del, "/api/v1/tokens/:id", s.deleteToken, auth)
	s.add(get, "/api/v1/whoami", s.whoami, auth)

	s.add(get, "/api/v1/keys", s.listKeys, auth)
	s.add(post, "/api/v1/keys", s.addKey, auth)
	s.add(del, "/api/v1/keys/:id", s.deleteKey, auth)

	s.add(post, "/api/v1/config/validate", s.validateConfig, auth)

	s.add(get, "/api/v1/traefik/config", s.getTraefikConfig, auth)

	s.add(post, "/api/v1/builds", s.createBuild, auth)
	s.archiveRoutes["/api/v1/builds"] = true

	// Webhooks carry a signature instead of a token (IsSigned); their
	// bodies may be up to HookBodyLimit, which the handler enforces.
	s.add(post, svc+"/webhook-secret", s.rotateWebhookSecret, auth)
	s.add(post, hookRoute, s.receiveHook, pub)
	s.archiveRoutes[hookRoute] = true
}
