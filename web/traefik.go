package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// TraefikConfig renders the routing table as Traefik v3 dynamic
// configuration (JSON), so a fleet of Traefik edges can front apprun through
// Traefik's HTTP provider. The composition root joins the router's routes
// and router/traefikcfg; this package only serves the bytes.
type TraefikConfig interface {
	TraefikConfig() ([]byte, error)
}

// getTraefikConfig is GET /api/v1/traefik/config.
func (s *Server) getTraefikConfig(c echo.Context) error {
	if s.cfg.Traefik == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "this server has no router configured"}
	}
	data, err := s.cfg.Traefik.TraefikConfig()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, data)
}
