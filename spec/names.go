package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// nameRE is the shape of every name apprun hands to the outside world
// (service, network, process type in container names, DNS labels under the
// apps domain): a DNS label that starts with a letter.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidateName reports why s is not a usable name, or nil. The rule is a DNS
// label that starts with a lowercase letter: `^[a-z][a-z0-9-]{0,62}$`, and no
// trailing hyphen (a DNS label may not end with one).
func ValidateName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("must not be empty")
	case len(s) > 63:
		return fmt.Errorf("must be at most 63 characters, got %d", len(s))
	case !nameRE.MatchString(s):
		return fmt.Errorf("%q is not a DNS label: use lowercase letters, digits and '-', starting with a letter", s)
	case strings.HasSuffix(s, "-"):
		return fmt.Errorf("%q must not end with '-'", s)
	}
	return nil
}

// hostnameLabelRE is one label of a hostname (letters, digits, hyphens inside).
var hostnameLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateHostname reports why s is not a fully qualified hostname usable as a
// custom domain (lowercase, at least two labels, no port, no trailing dot, no
// wildcard), or nil.
func ValidateHostname(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(s) > 253 {
		return fmt.Errorf("must be at most 253 characters, got %d", len(s))
	}
	if s != strings.ToLower(s) {
		return fmt.Errorf("%q must be lowercase", s)
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q must have at least two labels (like app.example.com)", s)
	}
	for _, l := range labels {
		if !hostnameLabelRE.MatchString(l) {
			return fmt.Errorf("%q is not a hostname: label %q is not a DNS label", s, l)
		}
	}
	// An all-numeric last label is an IP address (or no real name): no
	// certificate authority will issue for it.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Errorf("%q is not a hostname: the last label is numeric (an IP address?)", s)
	}
	return nil
}

// envNameRE is the POSIX portable shape of an environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateEnvName reports why s cannot be an environment variable name.
func ValidateEnvName(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("must be at most 255 characters")
	}
	if !envNameRE.MatchString(s) {
		return fmt.Errorf("%q is not an environment variable name: use letters, digits and '_', not starting with a digit", s)
	}
	return nil
}
