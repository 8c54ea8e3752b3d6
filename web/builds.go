package web

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/internal/lines"
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
	archive, err := archiveBody(c)
	if err != nil {
		return err
	}

	stream := s.startStream(c)
	logLines := lines.New(func(line string) { _ = stream.send(buildEvent{Log: &line}) })

	start := time.Now()
	res, err := s.cfg.Builder.BuildArchive(c.Request().Context(), req, archive, logLines)
	_ = logLines.Flush()
	if err != nil {
		detail := streamFailure(err, "build_failed")
		s.log.Info("build failed", "service", service, "name", name, "err", err)
		_ = stream.send(buildEvent{Error: &detail})
		return nil
	}
	if res.Seconds == 0 {
		res.Seconds = time.Since(start).Seconds()
	}
	_ = stream.send(buildEvent{Result: &res})
	return nil
}
