package web

import (
	"context"
	"net/http"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// networkInput is the writable part of a network.
type networkInput struct {
	Name     string `json:"name"`
	Internal bool   `json:"internal"`
}

func (s *Server) listNetworks(c echo.Context) error {
	ns, err := s.st.ListNetworks(c.Request().Context())
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []spec.Network{}
	}
	return c.JSON(http.StatusOK, map[string]any{"networks": ns})
}

func (s *Server) createNetwork(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var in networkInput
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	n := spec.Network{Name: in.Name, Internal: in.Internal}
	if err := n.Validate(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.st.CreateNetwork(ctx, n)
	if err != nil {
		return s.nameConflict(ctx, err, n.Name, s.networkExists)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/networks/"+created.Name)
	return c.JSON(http.StatusCreated, created)
}

func (s *Server) networkExists(ctx context.Context, name string) bool {
	_, err := s.st.GetNetwork(ctx, name)
	return err == nil
}

func (s *Server) getNetwork(c echo.Context) error {
	name, err := nameParam(c, "network")
	if err != nil {
		return err
	}
	n, err := s.st.GetNetwork(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// deleteNetwork removes a network; the store refuses (409) while a service
// still lists it, since its instances would lose their database.
func (s *Server) deleteNetwork(c echo.Context) error {
	name, err := nameParam(c, "network")
	if err != nil {
		return err
	}
	if err := s.st.DeleteNetwork(c.Request().Context(), name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
