package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// DeployRequest says what to deploy.
type DeployRequest struct {
	// Service is the service's name.
	Service string
	// Dir is a source directory to build. When empty, RevisionID (or, when
	// that is empty too, the revision before the one serving) is deployed
	// without a build: a rollback.
	Dir        string
	RevisionID string
	// Fetch, when set instead of Dir, makes the source directory in the
	// building step (a git fetch and checkout of a webhook's commit), so
	// that the deployment is recorded before the slow part. cleanup
	// removes the directory after the build.
	Fetch func(ctx context.Context, log io.Writer) (dir string, cleanup func(), err error)
	// Recorded, when set, is called once the deployment is recorded and
	// before anything else happens (a webhook answers 202 then).
	Recorded func(spec.Deployment)
	// Source is recorded on the deployment (kind, ref, commit); its Kind
	// defaults to "archive" for a Dir and "revision" otherwise.
	Source spec.DeploymentSource
}

// ErrDeployFailed wraps the reason of a deployment that ended failed.
var ErrDeployFailed = errors.New("deployment failed")

// Deploy runs one deployment through the state machine and returns it in
// its final state; the error is non-nil when it did not succeed (a failed
// deployment is returned too, with its reason). Progress goes to log as
// "-----> " steps. The build stops when ctx ends; once instances start,
// the rollout runs to its end whatever ctx does, since a rollout abandoned
// halfway would leave two revisions half-running.
func (d *Deployer) Deploy(ctx context.Context, req DeployRequest, log io.Writer) (spec.Deployment, error) {
	if log == nil {
		log = io.Discard
	}
	svc, err := d.cfg.Store.GetService(ctx, req.Service)
	if err != nil {
		return spec.Deployment{}, err
	}
	build := req.Dir != "" || req.Fetch != nil
	src := req.Source
	if src.Kind == "" {
		src.Kind = "archive"
		if !build {
			src.Kind = "revision"
		}
	}
	var rev spec.Revision
	if !build {
		// Resolve the revision before recording anything: a rollback to
		// nothing is a bad request, not a failed deployment.
		if rev, err = d.rollbackTarget(ctx, svc, req.RevisionID); err != nil {
			return spec.Deployment{}, err
		}
		if err := d.checkImage(ctx, rev); err != nil {
			return spec.Deployment{}, err
		}
		src.Ref = rev.ID
	} else if d.cfg.Builder == nil {
		return spec.Deployment{}, errors.New("this server has no builder: only revisions can be deployed")
	}
	dep, err := d.cfg.Store.CreateDeployment(ctx, svc.Name, src)
	if err != nil {
		return spec.Deployment{}, err
	}
	failpoint("deploy-queued")
	if req.Recorded != nil {
		req.Recorded(dep)
	}
	// One deployment of a service at a time: a second one is recorded
	// (queued) at once, so a webhook can answer, and waits here. The
	// reconciler keeps looking after the serving instances while a
	// deployment builds, and is held off only during its rollout (below).
	unlockDeploy, err := d.lockDeploys(ctx, svc.ID)
	if err != nil {
		return d.fail(dep, "cancelled while waiting for the service's previous deployment", err)
	}
	defer unlockDeploy()
	// The service as it is now, not as it was when the deployment queued.
	if cur, err := d.cfg.Store.GetService(ctx, req.Service); err == nil {
		svc = cur
	}
	start := d.cfg.Now()
	step(log, "Deployment #%d of %s (%s)", dep.Number, svc.Name, dep.ID)
	d.log.Info("deployment started", "service", svc.Name, "deployment", dep.ID, "source", src.Kind)

	if build {
		if dep, err = d.transition(ctx, dep, spec.StateBuilding, ""); err != nil {
			return dep, err
		}
		failpoint("deploy-building")
		dir := req.Dir
		if req.Fetch != nil {
			var cleanup func()
			dir, cleanup, err = req.Fetch(ctx, log)
			if err != nil {
				return d.fail(dep, "fetching the source: "+err.Error(), err)
			}
			if cleanup != nil {
				defer cleanup()
			}
		}
		step(log, "Building")
		breq := BuildRequest{Service: svc, Deployment: dep, Dir: dir}
		if cur, ok, err := d.currentRevision(ctx, svc); err == nil && ok {
			breq.PreviousImage = cur.Image
		}
		res, err := d.cfg.Builder.Build(ctx, breq, log)
		if err != nil {
			return d.fail(dep, "the build failed: "+err.Error(), err)
		}
		failpoint("deploy-built")
		rev, err = d.cfg.Store.CreateRevision(ctx, spec.Revision{
			ServiceID: svc.ID, Image: res.Image, Digest: res.Digest, Kind: res.Kind,
			Service: svc, Config: res.Config, Processes: res.Processes, DeploymentID: dep.ID,
		})
		if err != nil {
			return d.fail(dep, "recording the revision: "+err.Error(), err)
		}
		d.remember(rev)
		step(log, "Built revision #%d (%s)", rev.Number, shortDigest(rev.Digest))
	}
	if err := d.cfg.Store.SetDeploymentRevision(context.WithoutCancel(ctx), dep.ID, rev.ID); err != nil {
		return d.fail(dep, "recording the revision: "+err.Error(), err)
	}
	dep.RevisionID = rev.ID
	if dep, err = d.transition(ctx, dep, spec.StateBuilt, ""); err != nil {
		return dep, err
	}
	failpoint("deploy-revision")
	unlock := d.lock(svc.ID)
	// The settings may have changed during the build (a scale, say).
	if cur, err := d.cfg.Store.GetService(ctx, req.Service); err == nil {
		svc = cur
	}
	dep, err = d.rollout(context.WithoutCancel(ctx), dep, svc, rev, log)
	unlock()
	if err != nil {
		step(log, "Deployment #%d failed after %s", dep.Number, since(d.cfg.Now(), start))
		return dep, err
	}
	step(log, "Revision #%d serves %s (deployment #%d took %s)", rev.Number, svc.Name, dep.Number, since(d.cfg.Now(), start))
	return dep, nil
}

// rollbackTarget is the revision a revision deploy goes to: the one named,
// or the newest revision older than the one serving.
func (d *Deployer) rollbackTarget(ctx context.Context, svc spec.Service, id string) (spec.Revision, error) {
	if id != "" {
		return d.cfg.Store.GetRevision(ctx, svc.Name, id)
	}
	cur, ok, err := d.currentRevision(ctx, svc)
	if err != nil {
		return spec.Revision{}, err
	}
	if !ok {
		return spec.Revision{}, fmt.Errorf("%s serves no revision yet, so there is nothing to roll back from; name a revision: %w", svc.Name, spec.ErrConflict)
	}
	revs, err := d.cfg.Store.ListRevisions(ctx, svc.Name)
	if err != nil {
		return spec.Revision{}, err
	}
	for _, r := range revs { // newest first
		if r.Number < cur.Number {
			return r, nil
		}
	}
	return spec.Revision{}, fmt.Errorf("%s has no revision older than #%d to roll back to: %w", svc.Name, cur.Number, spec.ErrConflict)
}

// currentRevision is the revision that serves the service: that of its
// newest deployment that got routed. ok is false when none did.
func (d *Deployer) currentRevision(ctx context.Context, svc spec.Service) (spec.Revision, bool, error) {
	deps, err := d.cfg.Store.ListDeployments(ctx, svc.Name)
	if err != nil {
		return spec.Revision{}, false, err
	}
	for _, dep := range deps { // newest first
		switch dep.State {
		case spec.StateRouted, spec.StateDraining, spec.StateSucceeded:
			if dep.RevisionID == "" {
				continue
			}
			d.mu.Lock()
			rev, cached := d.revs[dep.RevisionID]
			d.mu.Unlock()
			if cached {
				return rev, true, nil
			}
			rev, err := d.cfg.Store.GetRevision(ctx, svc.Name, dep.RevisionID)
			if err != nil {
				return spec.Revision{}, false, err
			}
			d.remember(rev)
			return rev, true, nil
		}
	}
	return spec.Revision{}, false, nil
}

// transition records a state. It writes even when the caller's context has
// ended: the record must match what happened.
func (d *Deployer) transition(ctx context.Context, dep spec.Deployment, to spec.DeploymentState, reason string) (spec.Deployment, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := d.cfg.Store.TransitionDeployment(ctx, dep.ID, to, reason)
	if err != nil {
		return dep, fmt.Errorf("recording deployment %s as %s: %w", dep.ID, to, err)
	}
	return out, nil
}

// fail ends a deployment failed with a reason for a person, and returns it
// with an error wrapping ErrDeployFailed (and cause, when there is one).
func (d *Deployer) fail(dep spec.Deployment, reason string, cause error) (spec.Deployment, error) {
	reason = truncate(reason, 4000)
	d.log.Warn("deployment failed", "deployment", dep.ID, "state", dep.State, "reason", reason)
	out, err := d.transition(context.Background(), dep, spec.StateFailed, reason)
	if err != nil {
		return dep, errors.Join(fmt.Errorf("%w: %s", ErrDeployFailed, reason), err)
	}
	if cause != nil {
		return out, fmt.Errorf("%w: %s: %w", ErrDeployFailed, reason, cause)
	}
	return out, fmt.Errorf("%w: %s", ErrDeployFailed, reason)
}

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "-----> "+format+"\n", args...)
}

func since(now, start time.Time) time.Duration {
	return now.Sub(start).Round(10 * time.Millisecond)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// mask replaces every secret value in s, for text that may carry an app's
// output (a failure's log tail).
func mask(s string, secrets map[string]string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	return s
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
