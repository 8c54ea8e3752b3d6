package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that carry meaning from the store and the domain to the
// edges (the HTTP error handler maps them to status codes). Wrap them with
// fmt.Errorf("...: %w", ErrNotFound) so the message stays specific.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object exists already, or the change would break an
	// invariant held by another object (a duplicate name, a network in use).
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: missing or invalid credentials.
	ErrUnauthorized = errors.New("unauthorized")
)

// Problem is one thing wrong with an input, with the path of the field at
// fault in the form a user wrote it ("scaling.maxInstances",
// "run.network.port", "env[0].name").
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Line is the 1-based line of a parsed file (apprun.yaml, Procfile)
	// where the problem is, or 0.
	Line int `json:"line,omitempty"`
}

func (p Problem) String() string {
	s := p.Message
	if p.Field != "" {
		s = p.Field + ": " + s
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d: %s", p.Line, s)
	}
	return s
}

// Problems is a validation error: every problem found, in field order. A nil
// or empty Problems is not an error; use Err to turn it into one.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Add records a problem at field.
func (ps *Problems) Add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge adds the problems of other, each under prefix ("scaling" +
// "maxInstances" → "scaling.maxInstances").
func (ps *Problems) Merge(prefix string, other Problems) {
	for _, p := range other {
		*ps = append(*ps, Problem{Field: joinField(prefix, p.Field), Message: p.Message, Line: p.Line})
	}
}

// Err returns ps as an error, or nil when there is no problem.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// AsProblems returns the problems carried by err, if it is (or wraps) a
// validation error.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	if errors.As(err, &ps) {
		return ps, true
	}
	return nil, false
}

func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}
