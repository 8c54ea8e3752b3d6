package store

import (
	"errors"
	"fmt"

	"github.com/apprun/apprun/spec"
)

// wrap adds context to an unexpected error (a database failure) and leaves
// a domain error alone: a not-found, a conflict or a validation problem
// already says, in the user's terms, exactly what is wrong, and the API
// shows its message as is. A Mutate error is unwrapped and returned as
// ServiceUpdate promises.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var me mutateError
	if errors.As(err, &me) {
		return me.err
	}
	if _, ok := spec.AsProblems(err); ok ||
		errors.Is(err, spec.ErrNotFound) || errors.Is(err, spec.ErrConflict) || errors.Is(err, spec.ErrUnauthorized) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// mutateError carries the error of a ServiceUpdate.Mutate out of the
// transaction, so that wrap returns it untouched.
type mutateError struct{ err error }

func (e mutateError) Error() string { return e.err.Error() }
func (e mutateError) Unwrap() error { return e.err }

func serviceNotFound(name string) error {
	return fmt.Errorf("service %q %w", name, spec.ErrNotFound)
}

// problemsOf returns the problems carried by a validation error, or the
// error itself when it is something else.
func problemsOf(err error) (spec.Problems, error) {
	if err == nil {
		return nil, nil
	}
	if ps, ok := spec.AsProblems(err); ok {
		return ps, nil
	}
	return nil, err
}
