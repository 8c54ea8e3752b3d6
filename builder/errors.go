package builder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors a build can end with. Test for them with errors.Is; the API maps
// them to its responses.
var (
	// ErrSuperseded ends a build that was still queued when a newer
	// source for the same service arrived.
	ErrSuperseded = errors.New("build superseded by a newer source")
	// ErrCancelled ends a build whose callers all went away (or the
	// builder was closed).
	ErrCancelled = errors.New("build cancelled")
	// ErrTimeLimit ends a build that ran past Config.TimeLimit.
	ErrTimeLimit = errors.New("build exceeded its time limit")
	// ErrNothingDetected is returned when no buildpack applies to the
	// source and it has no Dockerfile.
	ErrNothingDetected = errors.New("no buildpack detected the source")
	// ErrUnsafeSource refuses source with a path that escapes its tree,
	// a device file, or an archive past its limits.
	ErrUnsafeSource = errors.New("unsafe source")
	// ErrBuildFailed is a build command, a Dockerfile step or the
	// lifecycle failing.
	ErrBuildFailed = errors.New("build failed")
)

// BuildError is a failed build: why, and the last lines of its log (masked)
// so the reason is at hand wherever the error is shown.
type BuildError struct {
	Err  error
	Tail []string
}

func (e *BuildError) Error() string {
	if len(e.Tail) == 0 {
		return e.Err.Error()
	}
	return e.Err.Error() + "\nlast lines of the build log:\n  " + strings.Join(e.Tail, "\n  ")
}

func (e *BuildError) Unwrap() error { return e.Err }

// timeLimitError is the cause given to a build's context when its time is
// up, so the error names the limit.
type timeLimitError struct{ limit time.Duration }

func (e *timeLimitError) Error() string {
	return fmt.Sprintf("build exceeded its %s limit", e.limit)
}

func (e *timeLimitError) Is(target error) bool {
	return target == ErrTimeLimit || target == context.DeadlineExceeded
}

// stopReason turns a build context that is done into the error to report,
// or returns nil when ctx is still live (the build failed on its own).
func stopReason(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	var tl *timeLimitError
	if cause := context.Cause(ctx); errors.As(cause, &tl) {
		return tl
	}
	return ErrCancelled
}
