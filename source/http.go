package source

import (
	"errors"
	"net/http"
	"net/http/cgi"
	"strings"

	"github.com/apprun/apprun/spec"
)

// Wrap returns a handler that serves smart HTTP under /git/ and passes
// every other request to next (the API).
func (s *Server) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/git/") || strings.HasPrefix(r.URL.EscapedPath(), "/git/") {
			s.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves one smart-HTTP request under /git/ with `git
// http-backend`: the path is checked, the caller authenticated (an API
// token as the basic-auth password, any user name), and the request handed
// to git with PATH_INFO naming the repository by the service's ID.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The password is checked before anything says whether the service
	// exists.
	_, plain, ok := r.BasicAuth()
	if bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); isBearer {
		// The CLI's own requests (GET /git/) carry the token as a bearer.
		plain, ok = bearer, true
	}
	if !ok || plain == "" {
		unauthorized(w)
		return
	}
	tok, err := s.cfg.Store.VerifyToken(ctx, plain)
	if err != nil {
		if errors.Is(err, spec.ErrUnauthorized) {
			unauthorized(w)
			return
		}
		s.log.Error("git http: checking a token", "err", err)
		http.Error(w, "checking the token failed", http.StatusInternalServerError)
		return
	}
	if r.URL.Path == "/git/" && r.Method == http.MethodGet {
		s.serveInfo(w)
		return
	}
	service, op, err := ParseHTTPPath(r.URL.EscapedPath())
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	switch {
	case op == "info/refs" && r.Method == http.MethodGet:
		if q := r.URL.Query().Get("service"); q != UploadPack && q != ReceivePack {
			http.Error(w, "only the smart HTTP protocol is served (git 1.6.6 or later)", http.StatusForbidden)
			return
		}
	case op != "info/refs" && r.Method == http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	svc, err := s.cfg.Store.GetService(ctx, service)
	if errors.Is(err, spec.ErrNotFound) {
		http.Error(w, "no service "+service+": create it first (apprun services create "+service+")", http.StatusNotFound)
		return
	} else if err != nil {
		s.log.Error("git http: reading the service", "service", service, "err", err)
		http.Error(w, "reading the service failed", http.StatusInternalServerError)
		return
	}
	_, err = s.ensureRepo(ctx, svc.ID, svc.Source.Branch)
	if err != nil {
		s.log.Error("git http: preparing the repository", "service", service, "err", err)
		http.Error(w, "preparing the repository failed", http.StatusInternalServerError)
		return
	}
	s.log.Info("git http", "service", service, "op", op, "token", tok.ID)
	// The repository is named by ID: the URL's name never reaches a path.
	r2 := r.Clone(ctx)
	r2.URL.Path = "/git/" + svc.ID + ".git/" + op
	r2.URL.RawPath = ""
	// cgi hands every header to git as HTTP_*; the token has no business
	// in git's (and the hook's) environment.
	r2.Header = r.Header.Clone()
	r2.Header.Del("Authorization")
	env := s.gitEnv(s.hookEnv(svc.Name, svc.ID)...)
	env = append(env,
		"GIT_PROJECT_ROOT="+s.reposDir(),
		"GIT_HTTP_EXPORT_ALL=1",
		"REMOTE_USER=token:"+tok.ID,
	)
	h := &cgi.Handler{
		Path: s.gitBin,
		Root: "/git",
		Dir:  s.reposDir(),
		Env:  env,
		Args: []string{"http-backend"},
	}
	h.ServeHTTP(flushWriter{w}, r2)
}

// unauthorized asks for basic auth: git then prompts for (or reads from a
// credential helper) a user name and password.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="apprun", charset="UTF-8"`)
	http.Error(w, "an API token is required as the password (any user name)", http.StatusUnauthorized)
}

// serveInfo tells the CLI where the SSH server is, for `apprun git-remote`.
func (s *Server) serveInfo(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	addr := strings.ReplaceAll(s.SSHAddr(), `"`, "")
	_, _ = w.Write([]byte(`{"sshAddr":"` + addr + `"}` + "\n"))
}

// flushWriter flushes after every write, so that the build log git relays
// in its sideband reaches the pusher as it is written (cgi copies the
// body through a buffer and never flushes).
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.ResponseWriter.Write(p)
	if err == nil {
		_ = http.NewResponseController(f.ResponseWriter).Flush()
	}
	return n, err
}
