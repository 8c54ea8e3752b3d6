package web

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/labstack/echo/v4"
)

// serviceInput is the writable part of a service: what POST and PATCH
// accept. Read-only fields (id, secretNames, createdAt, updatedAt, url) are
// deliberately absent, so that a client sending them back gets a 400 for an
// unknown field instead of believing it changed them. Secrets are
// write-only: they come in here and leave only as names.
type serviceInput struct {
	Name         string            `json:"name"`
	Port         int               `json:"port"`
	Env          map[string]string `json:"env"`
	Scaling      spec.Scaling      `json:"scaling"`
	HealthCheck  spec.HealthCheck  `json:"healthCheck"`
	InstanceSize spec.InstanceSize `json:"instanceSize"`
	Networks     []string          `json:"networks"`
	Domains      []string          `json:"domains"`
	Source       spec.Source       `json:"source"`
	Secrets      map[string]string `json:"secrets"`
}

// inputFrom copies the writable fields of svc. Maps and slices are cloned so
// that decoding onto the input never writes through to svc.
func inputFrom(svc spec.Service) serviceInput {
	return serviceInput{
		Name:         svc.Name,
		Port:         svc.Port,
		Env:          maps.Clone(svc.Env),
		Scaling:      svc.Scaling,
		HealthCheck:  svc.HealthCheck,
		InstanceSize: svc.InstanceSize,
		Networks:     slices.Clone(svc.Networks),
		Domains:      slices.Clone(svc.Domains),
		Source:       svc.Source,
	}
}

// applyTo writes the writable fields onto svc (secrets travel separately).
func (in serviceInput) applyTo(svc *spec.Service) {
	svc.Name = in.Name
	svc.Port = in.Port
	svc.Env = in.Env
	svc.Scaling = in.Scaling
	svc.HealthCheck = in.HealthCheck
	svc.InstanceSize = in.InstanceSize
	svc.Networks = in.Networks
	svc.Domains = in.Domains
	svc.Source = in.Source
}

// serviceResponse is a service as the API shows it: the stored settings
// plus its public URL when the server knows its apps domain.
type serviceResponse struct {
	spec.Service
	URL string `json:"url,omitempty"`
}

func (s *Server) serviceJSON(svc spec.Service) serviceResponse {
	r := serviceResponse{Service: svc}
	if s.cfg.ServiceURL != nil {
		r.URL = s.cfg.ServiceURL(svc.Name)
	}
	return r
}

func (s *Server) listServices(c echo.Context) error {
	svcs, err := s.st.ListServices(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]serviceResponse, 0, len(svcs))
	for _, svc := range svcs {
		out = append(out, s.serviceJSON(svc))
	}
	return c.JSON(http.StatusOK, map[string]any{"services": out})
}

func (s *Server) createService(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	// The first decode finds every syntax, type and unknown-field error and
	// the name; the second decodes onto NewService(name) so that absent
	// fields keep App Runner's defaults while present zeros (minInstances:
	// 0) are honoured.
	var probe serviceInput
	if err := decodeJSON(data, &probe); err != nil {
		return err
	}
	svc := spec.NewService(probe.Name)
	in := inputFrom(svc)
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	in.applyTo(&svc)
	if err := validateService(svc, in.Secrets); err != nil {
		return err
	}
	if err := s.appsDomainProblems(svc).Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.st.CreateService(ctx, svc, in.Secrets)
	if err != nil {
		return s.nameConflict(ctx, err, svc.Name, s.serviceExists)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/services/"+created.Name)
	return c.JSON(http.StatusCreated, s.serviceJSON(created))
}

// validateService reports every problem with a service and the secrets sent
// with it in one answer, before anything is written.
func validateService(svc spec.Service, secrets map[string]string) error {
	var ps spec.Problems
	for _, err := range []error{svc.Validate(), spec.ValidateSecrets(secrets)} {
		if err == nil {
			continue
		}
		more, ok := spec.AsProblems(err)
		if !ok {
			return err
		}
		ps = append(ps, more...)
	}
	return ps.Err()
}

// nameConflict names the field at fault when a create fails with a
// conflict because the name is taken (the store's conflict may also be about
// something else, such as a domain that belongs to another service).
func (s *Server) nameConflict(ctx context.Context, err error, name string, exists func(context.Context, string) bool) error {
	if !errors.Is(err, spec.ErrConflict) || !exists(ctx, name) {
		return err
	}
	return &apiError{status: http.StatusConflict, code: codeConflict, field: "name", message: err.Error()}
}

func (s *Server) serviceExists(ctx context.Context, name string) bool {
	_, err := s.st.GetService(ctx, name)
	return err == nil
}

func (s *Server) getService(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	svc, err := s.st.GetService(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.serviceJSON(svc))
}

// patchService changes the fields present in the body. Top-level fields
// replace; nested objects (scaling, healthCheck, instanceSize, source) merge
// field by field, because the body is decoded onto a copy of the current
// service inside the store's transaction. Maps the body names are emptied
// first, so "env" replaces the whole map rather than adding to it (use PUT
// .../env to merge).
func (s *Server) patchService(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var probe serviceInput
	if err := decodeJSON(data, &probe); err != nil {
		return err
	}
	if hasKey(data, "name") && probe.Name != name {
		// Renaming would change the service's URL and every reference to it;
		// it is a new service, not an edit.
		return spec.Problems{{Field: "name", Message: "cannot be changed"}}
	}
	if err := spec.ValidateSecrets(probe.Secrets); err != nil {
		return err
	}
	replaceEnv := hasKey(data, "env")
	svc, err := s.st.UpdateService(c.Request().Context(), name, store.ServiceUpdate{
		Mutate: func(cur *spec.Service) error {
			in := inputFrom(*cur)
			if replaceEnv {
				in.Env = nil
			}
			if err := decodeJSON(data, &in); err != nil {
				return err
			}
			in.applyTo(cur)
			if err := cur.Validate(); err != nil {
				return err
			}
			return s.appsDomainProblems(*cur).Err()
		},
		SetSecrets: probe.Secrets,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.serviceJSON(svc))
}

func (s *Server) deleteService(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// The service is read first so that the deployer, which is told after
	// the store forgets it, still knows its ID and settings.
	svc, err := s.st.GetService(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteService(ctx, name); err != nil {
		return err
	}
	s.undeploy(ctx, svc)
	return c.NoContent(http.StatusNoContent)
}
