package web

import (
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// tokenInput is the body of POST /api/v1/tokens.
type tokenInput struct {
	// Name says what the token is for ("ci", "laptop"); it is shown in
	// listings so that a leaked token can be found and revoked.
	Name string `json:"name"`
}

// createdToken is the answer to POST /api/v1/tokens: the only response that
// ever carries a token's plain text.
type createdToken struct {
	spec.Token
	Plain string `json:"token"`
}

const maxTokenName = 100

func (in tokenInput) validate() error {
	var ps spec.Problems
	switch {
	case in.Name == "":
		ps.Add("name", "must not be empty")
	case len(in.Name) > maxTokenName:
		ps.Add("name", "must be at most %d bytes, got %d", maxTokenName, len(in.Name))
	case !utf8.ValidString(in.Name):
		ps.Add("name", "must be valid UTF-8")
	default:
		for _, r := range in.Name {
			if unicode.IsControl(r) {
				ps.Add("name", "must not contain control characters")
				break
			}
		}
	}
	return ps.Err()
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.st.ListTokens(c.Request().Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []spec.Token{}
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) createToken(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var in tokenInput
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	plain, tok, err := s.st.CreateToken(c.Request().Context(), in.Name)
	if err != nil {
		return err
	}
	if who, ok := caller(c); ok {
		// Who made which token is worth an audit line; the token itself
		// never goes to the log.
		s.log.Info("token created", "id", tok.ID, "name", tok.Name, "by", who.ID)
	}
	return c.JSON(http.StatusCreated, createdToken{Token: tok, Plain: plain})
}

func (s *Server) deleteToken(c echo.Context) error {
	id, err := idParam(c, "token")
	if err != nil {
		return err
	}
	if err := s.st.DeleteToken(c.Request().Context(), id); err != nil {
		return err
	}
	if who, ok := caller(c); ok {
		s.log.Info("token deleted", "id", id, "by", who.ID)
	}
	return c.NoContent(http.StatusNoContent)
}

// whoami answers with the caller's token (id and name), which is how
// `apprun login` checks that a token works before saving it.
func (s *Server) whoami(c echo.Context) error {
	tok, ok := caller(c)
	if !ok {
		return unauthorized("a valid bearer token is required")
	}
	return c.JSON(http.StatusOK, tok)
}
