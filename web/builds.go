package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/spec"
)

// Builder builds an uploaded source archive into an image. The API only
// streams; the composition root extracts the archive safely and calls the
// real builder, so this package never touches the builder's internals.
type Builder interface {
	BuildArchive(ctx context.Context, req BuildRequest, archive io.Reader, log io.Writer) (BuildResult, error)
}

// BuildRequest says what to build for whom.
type BuildRequest struct {
	// Service is the service the build is for, or nil for an ad-hoc build
	// (`apprun build DIR`), which is named by Name instead.
	Service *spec.Service
	Name    string
}

// BuildResult is the image a build produced.
type BuildResult struct {
	Image   string  `json:"image"`
	Digest  string  `json:"digest"`
	Kind    string  `json:"kind"`
	Seconds float64 `json:"seconds"`
}

// buildEvent is one line of the NDJSON stream a build answers with: log
// lines while it runs, then exactly one result or error.
type buildEvent struct {
	Log    *string      `json:"log,omitempty"`
	Result *BuildResult `json:"result,omitempty"`
	Error  *errorDetail `json:"error,omitempty"`
}

// createBuild is POST /api/v1/builds?service=NAME (or ?name=NAME): the body
// is a tar or tar.gz of the source. The answer streams as NDJSON so the CLI
// can show the log as it happens; problems found before the build starts
// are ordinary JSON errors.
func (s *Server) createBuild(c echo.Context) error {
	if s.cfg.Builder == nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "this server has no builder configured"}
	}
	req := BuildRequest{}
	service, name := c.QueryParam("service"), c.QueryParam("name")
	switch {
	case service != "" && name != "":
		return badRequest("name", "give either service or name, not both")
	case service != "":
		if err := spec.ValidateName(service); err != nil {
			return badRequest("service", "%v", err)
		}
		svc, err := s.st.GetService(c.Request().Context(), service)
		if err != nil {
			return err
		}
		req.Service = &svc
	case name != "":
		if err := spec.ValidateName(name); err != nil {
			return badRequest("name", "%v", err)
		}
		req.Name = name
	default:
		return badRequest("service", "a service (?service=NAME) or an image name (?name=NAME) is required")
	}
	if c.Request().ContentLength == 0 {
		return badRequest("", "request body is empty: send a tar or tar.gz of the source")
	}

	w := c.Response()
	// The log streams back while the archive is still being read: without
	// full duplex, net/http closes an HTTP/1 request body once the first
	// response bytes are flushed.
	if err := http.NewResponseController(w.Writer).EnableFullDuplex(); err != nil {
		s.log.Debug("full duplex unavailable; reading the archive before streaming", "err", err)
	}
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	stream := &eventStream{w: w}
	lines := &lineSplitter{emit: func(line string) { stream.send(buildEvent{Log: &line}) }}

	start := time.Now()
	res, err := s.cfg.Builder.BuildArchive(c.Request().Context(), req, c.Request().Body, lines)
	lines.flush()
	if err != nil {
		var mbe *http.MaxBytesError
		detail := errorDetail{Code: "build_failed", Message: err.Error()}
		switch {
		case errors.As(err, &mbe):
			ae := tooLarge(mbe.Limit)
			detail = errorDetail{Code: ae.code, Message: ae.message}
		case errors.Is(err, context.Canceled):
			detail = errorDetail{Code: "cancelled", Message: "the build was cancelled"}
		}
		if ps, ok := spec.AsProblems(err); ok && len(ps) > 0 {
			detail = errorDetail{Code: codeInvalid, Message: ps.Error(), Field: ps[0].Field, Problems: ps}
		}
		s.log.Info("build failed", "service", service, "name", name, "err", err)
		stream.send(buildEvent{Error: &detail})
		return nil
	}
	if res.Seconds == 0 {
		res.Seconds = time.Since(start).Seconds()
	}
	stream.send(buildEvent{Result: &res})
	return nil
}

// eventStream writes one JSON object per line and flushes it at once.
type eventStream struct {
	mu sync.Mutex
	w  *echo.Response
}

func (e *eventStream) send(ev buildEvent) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(data, '\n'))
	e.w.Flush()
}

// lineSplitter turns a byte stream into whole lines. It is safe for
// concurrent writers, as a build's stdout and stderr may be.
type lineSplitter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.emit(strings.TrimSuffix(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	// A single line longer than 64 KiB is cut rather than held forever.
	if len(l.buf) > 64<<10 {
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineSplitter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}
