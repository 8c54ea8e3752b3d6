package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// tokenKey is where authenticate leaves the caller's token in the echo
// context, for whoami and for handlers that want to record who acted.
const tokenKey = "apprun.token"

// authenticate requires `Authorization: Bearer <token>` on every route that
// is not public. It runs after routing, so it decides by route template:
// a path with no route at all passes through to echo's 404, which reveals
// nothing the public OpenAPI document does not; a known path with the wrong
// method still needs a token before it learns it is a 405.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		route := c.Path()
		if s.public[req.Method+" "+route] || !s.paths[route] {
			return next(c)
		}
		plain, ok := bearerToken(req.Header.Get(echo.HeaderAuthorization))
		if !ok {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="apprun"`)
			return unauthorized("missing or malformed Authorization header; send `Authorization: Bearer <token>`")
		}
		tok, err := s.st.VerifyToken(req.Context(), plain)
		if err != nil {
			if errors.Is(err, spec.ErrUnauthorized) || errors.Is(err, spec.ErrNotFound) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="apprun", error="invalid_token"`)
				return unauthorized("the bearer token is not valid")
			}
			// The store failing is not the client's fault: a 500 rather than
			// a 401 keeps a working token from looking revoked.
			return err
		}
		c.Set(tokenKey, tok)
		return next(c)
	}
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: msg}
}

// bearerToken extracts the token from an Authorization header value. The
// scheme is case-insensitive (RFC 7235); the token must be one non-empty
// word of RFC 6750's token68 characters.
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || len(tok) > 512 {
		return "", false
	}
	for _, r := range tok {
		if !isToken68(r) {
			return "", false
		}
	}
	return tok, true
}

func isToken68(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/=", r)
}

// caller returns the token the request authenticated with.
func caller(c echo.Context) (spec.Token, bool) {
	tok, ok := c.Get(tokenKey).(spec.Token)
	return tok, ok
}
