package web

import (
	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// Path parameters are checked before the store sees them. A name that is not
// a DNS label cannot name anything that exists (the store refuses to create
// one), so it is a 404 straight away; this keeps odd input ("..", "%00",
// 10 KB strings) away from SQL and logs.

// nameParam returns the :name parameter, or a 404 for what (a "service", a
// "network") when it cannot be a name.
func nameParam(c echo.Context, what string) (string, error) {
	name := c.Param("name")
	if spec.ValidateName(name) != nil {
		return "", notFound("no %s named %q (names are lowercase DNS labels)", what, clip(name))
	}
	return name, nil
}

// keyParam returns the :key parameter (an env or secret name), or a 404.
func keyParam(c echo.Context, what string) (string, error) {
	key := c.Param("key")
	if spec.ValidateEnvName(key) != nil {
		return "", notFound("no %s named %q", what, clip(key))
	}
	return key, nil
}

// idParam returns the :id parameter, or a 404 when it cannot be an ID. IDs
// are opaque to this package; the check only bounds their length and
// alphabet.
func idParam(c echo.Context, what string) (string, error) {
	id := c.Param("id")
	if !validID(id) {
		return "", notFound("no %s with id %q", what, clip(id))
	}
	return id, nil
}

// validID reports whether id can be an ID: IDs are opaque to this package,
// so the check only bounds their length and alphabet, to keep odd input
// away from the store and the logs.
func validID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// clip bounds user input echoed in messages.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
