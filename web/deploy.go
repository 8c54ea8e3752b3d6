package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/internal/lines"
	"github.com/apprun/apprun/spec"
)

// Deployer deploys and runs services; the composition root adapts package deployer to it.
type Deployer interface {
	// DeployArchive builds the archive (a tar or tar.gz of the source) and rolls it out, writing "-----> " steps and the build log to log.
	// It returns the deployment whenever one was recorded (ID != ""), in its final state, and a non-nil error when it did not succeed.
	DeployArchive(ctx context.Context, svc spec.Service, archive io.Reader, log io.Writer) (spec.Deployment, error)
	// DeployRevision rolls out an existing revision without building (a rollback); revisionID "" means the revision before the one serving now.
	DeployRevision(ctx context.Context, svc spec.Service, revisionID string, log io.Writer) (spec.Deployment, error)
	// Scale sets the number of instances per process type and converges; it returns the updated service.
	Scale(ctx context.Context, svc spec.Service, formation map[string]int) (spec.Service, error)
	// Logs emits the service's instance output, oldest first; with q.Follow it keeps going until ctx ends.
	Logs(ctx context.Context, svc spec.Service, q LogQuery, emit func(LogLine) error) error
	// Instances lists the service's instances.
	Instances(ctx context.Context, svc spec.Service) ([]InstanceStatus, error)
	// Undeploy stops and removes every instance of a deleted service and its routes.
	Undeploy(ctx context.Context, svc spec.Service) error
}

// LogQuery selects the log lines GET .../logs answers with. Zero values
// select everything: Since zero is from the start, Tail 0 is no limit, and
// empty Process and Revision are every process and revision.
type LogQuery struct {
	Follow   bool
	Since    time.Time
	Tail     int
	Process  string
	Revision string
}

// LogLine is one line an instance wrote (stdout and stderr alike).
type LogLine struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Process  string    `json:"process"`
	Revision string    `json:"revision"`
	Line     string    `json:"line"`
}

// InstanceStatus is one running (or starting, or stopped) instance.
type InstanceStatus struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Process    string    `json:"process"`
	RevisionID string    `json:"revisionId"`
	State      string    `json:"state"`
	Address    string    `json:"address,omitempty"`
	Ready      bool      `json:"ready"`
	StartedAt  time.Time `json:"startedAt"`
	Restarts   int       `json:"restarts"`
}

// deployEvent is one line of the NDJSON stream a deployment or a rollback
// answers with: log lines while it runs, then exactly one last line with
// the deployment (on success), or the error and, when one was recorded,
// the failed deployment (whose reason says what went wrong).
type deployEvent struct {
	Log        *string          `json:"log,omitempty"`
	Deployment *spec.Deployment `json:"deployment,omitempty"`
	Error      *errorDetail     `json:"error,omitempty"`
}

// rollbackInput is the body of POST .../rollback.
type rollbackInput struct {
	// Revision is the revision to go back to; "" means the one before the
	// revision serving now.
	Revision string `json:"revision"`
}

// noDeployer is the answer of the deployment routes on a server without a
// deployer (an API-only process, or tests).
func noDeployer() error {
	return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "this server has no deployer configured"}
}

// deployTarget resolves the :name of a deployment route to its service. It
// checks for a deployer first so that a server without one says so plainly
// for every service name.
func (s *Server) deployTarget(c echo.Context) (spec.Service, error) {
	if s.cfg.Deployer == nil {
		return spec.Service{}, noDeployer()
	}
	name, err := nameParam(c, "service")
	if err != nil {
		return spec.Service{}, err
	}
	return s.st.GetService(c.Request().Context(), name)
}

// createDeployment is POST /api/v1/services/{name}/deployments: the body is
// a tar or tar.gz of the source, which is built and rolled out while the log
// streams back.
func (s *Server) createDeployment(c echo.Context) error {
	svc, err := s.deployTarget(c)
	if err != nil {
		return err
	}
	archive, err := archiveBody(c)
	if err != nil {
		return err
	}
	return s.streamDeployment(c, svc, "deploy", func(ctx context.Context, log io.Writer) (spec.Deployment, error) {
		return s.cfg.Deployer.DeployArchive(ctx, svc, archive, log)
	})
}

// rollback is POST /api/v1/services/{name}/rollback: it rolls out an
// existing revision, streaming like a deployment.
func (s *Server) rollback(c echo.Context) error {
	svc, err := s.deployTarget(c)
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var in rollbackInput
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	if err := s.checkRollbackTarget(c.Request().Context(), svc.Name, in.Revision); err != nil {
		return err
	}
	return s.streamDeployment(c, svc, "rollback", func(ctx context.Context, log io.Writer) (spec.Deployment, error) {
		return s.cfg.Deployer.DeployRevision(ctx, svc, in.Revision, log)
	})
}

// checkRollbackTarget refuses, before anything streams, a rollback that
// cannot work: a named revision the service does not have, or an implicit
// one ("the revision before") when the service has fewer than two.
func (s *Server) checkRollbackTarget(ctx context.Context, service, revision string) error {
	if revision == "" {
		revs, err := s.st.ListRevisions(ctx, service)
		if err != nil {
			return err
		}
		if len(revs) < 2 {
			return &apiError{status: http.StatusConflict, code: codeConflict, field: "revision",
				message: fmt.Sprintf("service %q has %d revision(s): there is no earlier revision to roll back to", service, len(revs))}
		}
		return nil
	}
	if !validID(revision) {
		return badRequest("revision", "%q is not a revision ID", clip(revision))
	}
	if _, err := s.st.GetRevision(ctx, service, revision); err != nil {
		if errors.Is(err, spec.ErrNotFound) {
			return &apiError{status: http.StatusNotFound, code: codeNotFound, field: "revision",
				message: fmt.Sprintf("service %q has no revision %q", service, revision)}
		}
		return err
	}
	return nil
}

// streamDeployment starts the NDJSON answer and runs deploy, turning what it
// writes into log lines and its outcome into the last line. The request's
// context is the deployment's: a client that hangs up cancels it, which the
// deployer turns into a failed deployment (before routing) or lets finish
// (after), as for any other cancellation.
func (s *Server) streamDeployment(c echo.Context, svc spec.Service, what string, deploy func(context.Context, io.Writer) (spec.Deployment, error)) error {
	stream := s.startStream(c)
	logLines := lines.New(func(line string) { _ = stream.send(deployEvent{Log: &line}) })
	d, err := deploy(c.Request().Context(), logLines)
	_ = logLines.Flush()
	last := deployEvent{}
	if d.ID != "" {
		last.Deployment = &d
	}
	if err != nil {
		detail := streamFailure(err, "deploy_failed")
		last.Error = &detail
		s.log.Info(what+" failed", "service", svc.Name, "deployment", d.ID, "err", err)
	} else if last.Deployment == nil {
		// A deployer that succeeds must have recorded a deployment; say
		// so rather than end the stream without its promised last line.
		s.log.Error(what+" succeeded without a deployment", "service", svc.Name)
		last.Error = &errorDetail{Code: codeInternal, Message: "the deployer reported success but recorded no deployment"}
	}
	_ = stream.send(last)
	return nil
}
