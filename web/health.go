package web

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// openAPIDoc is the API's OpenAPI 3 document, served as is. It is written by
// hand next to the handlers; TestOpenAPIMatchesRoutes keeps it in step with
// the route table.
//
//go:embed openapi.json
var openAPIDoc []byte

// readyTimeout bounds the store ping of /readyz: a probe that hangs is worse
// than one that says "not ready".
const readyTimeout = 2 * time.Second

// healthz says the process is alive. It checks nothing else, so an
// orchestrator does not restart apprun because its disk is slow.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

// readyz says whether the server can serve API requests, i.e. whether the
// store answers.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.log.Warn("not ready: store ping failed", "err", err)
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "the store is not available"}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}
