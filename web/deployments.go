package web

import (
	"net/http"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// Deployments and revisions are read-only through the API for now: the
// deployer creates them. Lists are wrapped in an object so that paging
// fields can be added without breaking clients.

func (s *Server) listDeployments(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// An unknown service is a 404, not an empty list, so a typo in
	// `apprun deployments wbe` is not mistaken for "never deployed".
	if _, err := s.st.GetService(ctx, name); err != nil {
		return err
	}
	ds, err := s.st.ListDeployments(ctx, name)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []spec.Deployment{}
	}
	return c.JSON(http.StatusOK, map[string]any{"deployments": ds})
}

func (s *Server) getDeployment(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	id, err := idParam(c, "deployment")
	if err != nil {
		return err
	}
	d, err := s.st.GetDeployment(c.Request().Context(), name, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) listRevisions(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.st.GetService(ctx, name); err != nil {
		return err
	}
	rs, err := s.st.ListRevisions(ctx, name)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []spec.Revision{}
	}
	return c.JSON(http.StatusOK, map[string]any{"revisions": rs})
}

func (s *Server) getRevision(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	id, err := idParam(c, "revision")
	if err != nil {
		return err
	}
	r, err := s.st.GetRevision(c.Request().Context(), name, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
