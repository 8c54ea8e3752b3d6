package web

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/labstack/echo/v4"
)

// Env and secrets have their own routes so that a client can set one
// variable without reading and rewriting the whole service (and so that
// `apprun env set` and `apprun secrets set` cannot race a PATCH that
// replaces the map).

// The env routes answer with the env itself, {"NAME":"value",...}: the same
// shape PUT takes, so a client can read, edit and send it back.

// secretsResponse is the answer of the secrets routes: names only, sorted.
// Secret values are never sent back.
type secretsResponse struct {
	Names []string `json:"names"`
}

func envJSON(svc spec.Service) map[string]string {
	if svc.Env == nil {
		return map[string]string{}
	}
	return svc.Env
}

func secretsJSON(svc spec.Service) secretsResponse {
	names := slices.Clone(svc.SecretNames)
	if names == nil {
		names = []string{}
	}
	slices.Sort(names)
	return secretsResponse{Names: names}
}

func (s *Server) getEnv(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	svc, err := s.st.GetService(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, envJSON(svc))
}

// putEnv merges the body's variables into the service's env.
func (s *Server) putEnv(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	vars, err := decodeStringMap(data, "env")
	if err != nil {
		return err
	}
	svc, err := s.st.UpdateService(c.Request().Context(), name, store.ServiceUpdate{
		Mutate: func(cur *spec.Service) error {
			if cur.Env == nil {
				cur.Env = map[string]string{}
			}
			for k, v := range vars {
				cur.Env[k] = v
			}
			return cur.Validate()
		},
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, envJSON(svc))
}

func (s *Server) deleteEnv(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	key, err := keyParam(c, "env variable")
	if err != nil {
		return err
	}
	_, err = s.st.UpdateService(c.Request().Context(), name, store.ServiceUpdate{
		Mutate: func(cur *spec.Service) error {
			if _, ok := cur.Env[key]; !ok {
				return fmt.Errorf("env variable %q is not set on service %q: %w", key, name, spec.ErrNotFound)
			}
			delete(cur.Env, key)
			return nil
		},
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getSecrets(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	svc, err := s.st.GetService(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, secretsJSON(svc))
}

// putSecrets sets (adds or replaces) the body's secrets; others are kept.
func (s *Server) putSecrets(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	secrets, err := decodeStringMap(data, "secrets")
	if err != nil {
		return err
	}
	if err := spec.ValidateSecrets(secrets); err != nil {
		return err
	}
	svc, err := s.st.UpdateService(c.Request().Context(), name, store.ServiceUpdate{SetSecrets: secrets})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, secretsJSON(svc))
}

// deleteSecret removes one secret; a name that is not set is a 404 so that
// a typo in `apprun secrets unset` does not look like success.
func (s *Server) deleteSecret(c echo.Context) error {
	name, err := nameParam(c, "service")
	if err != nil {
		return err
	}
	key, err := keyParam(c, "secret")
	if err != nil {
		return err
	}
	_, err = s.st.UpdateService(c.Request().Context(), name, store.ServiceUpdate{
		Mutate: func(cur *spec.Service) error {
			if !slices.Contains(cur.SecretNames, key) {
				return fmt.Errorf("secret %q is not set on service %q: %w", key, name, spec.ErrNotFound)
			}
			return nil
		},
		UnsetSecrets: []string{key},
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
