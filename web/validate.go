package web

import (
	"net/http"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// validateConfig parses an apprun.yaml sent as the body (any content type:
// curl --data-binary @apprun.yaml works as is) and answers with the parsed
// config, or 422 with every problem and the line it is on. `apprun
// validate` uses it so that the CLI and the server can never disagree
// about what a file means.
func (s *Server) validateConfig(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	cfg, err := spec.ParseAppConfig(data)
	if err != nil {
		if _, ok := spec.AsProblems(err); ok {
			return err
		}
		// Whatever else the parser says about the file is still the file's
		// fault, not the server's: report it as a problem, not a 500.
		return spec.Problems{{Message: err.Error()}}
	}
	return c.JSON(http.StatusOK, cfg)
}
