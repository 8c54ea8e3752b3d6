package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apprun/apprun/spec"
)

// rollout takes a built deployment to succeeded or failed: start the new
// instances, wait until they are healthy, publish them, then drain and stop
// the old ones. Until the routes are published a failure leaves the old
// revision serving untouched; after, the deployment always finishes.
func (d *Deployer) rollout(ctx context.Context, dep spec.Deployment, svc spec.Service, rev spec.Revision, log io.Writer) (spec.Deployment, error) {
	dep, err := d.transition(ctx, dep, spec.StateStarting, "")
	if err != nil {
		return dep, err
	}
	failpoint("deploy-starting")
	secrets, err := d.cfg.Store.ServiceSecrets(ctx, svc.Name)
	if err != nil {
		return d.fail(dep, "reading the service's secrets: "+err.Error(), err)
	}
	all, err := d.list(ctx)
	if err != nil {
		return d.fail(dep, "listing the instances: "+err.Error(), err)
	}
	old := ofService(all, svc.ID)

	want := Desired(svc, rev, d.warmCount(svc.Name))
	// As many web instances as serve now, so a deploy under load never
	// lowers the capacity (the autoscaler may have scaled up).
	if n := d.countServing(old); n > want[spec.WebProcess] {
		if _, ok := want[spec.WebProcess]; ok {
			want[spec.WebProcess] = n
		}
	}
	// A revision is proven before it takes traffic, so even a service
	// scaled to zero starts one web instance (it stays warm until the
	// autoscaler retires it).
	if want[spec.WebProcess] == 0 {
		if _, ok := want[spec.WebProcess]; ok {
			want[spec.WebProcess] = 1
			d.setWarm(svc.Name, 1)
		}
	}
	var parts []string
	for _, p := range processTypes(rev) {
		if want[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", p, want[p]))
		}
	}
	step(log, "Starting revision #%d (%s)", rev.Number, strings.Join(parts, " "))
	started, err := d.startAll(ctx, rev, dep.ID, want, secrets)
	if err != nil {
		d.removeAll(started)
		return d.fail(dep, err.Error(), err)
	}
	failpoint("deploy-instance-started")
	if err := d.waitAll(ctx, started, rev); err != nil {
		reason := err.Error()
		var ie *instanceError
		if errors.As(err, &ie) {
			if tail := d.logTail(ctx, ie.id, 20); tail != "" {
				reason += "\nlast output of the instance:\n" + mask(tail, secrets)
			}
		}
		d.removeAll(started)
		return d.fail(dep, reason, err)
	}
	if dep, err = d.transition(ctx, dep, spec.StateHealthy, ""); err != nil {
		d.removeAll(started)
		return dep, err
	}
	failpoint("deploy-healthy")
	step(log, "Healthy: %d instance(s)", len(started))

	var addrs []string
	d.mu.Lock()
	for _, i := range started {
		d.health[i.ID] = &instHealth{ready: true, lastCheck: d.cfg.Now()}
		if i.Labels[LabelProcess] == spec.WebProcess {
			addrs = append(addrs, address(i, rev))
		}
	}
	d.mu.Unlock()
	if err := d.publish(ctx, svc, rev, addrs); err != nil {
		d.removeAll(started)
		return d.fail(dep, "publishing the routes: "+err.Error(), err)
	}
	failpoint("deploy-published")
	if dep, err = d.transition(ctx, dep, spec.StateRouted, ""); err != nil {
		return dep, err
	}
	failpoint("deploy-routed")
	step(log, "Routing %s to revision #%d", svc.Name, rev.Number)
	if dep, err = d.transition(ctx, dep, spec.StateDraining, ""); err != nil {
		return dep, err
	}
	failpoint("deploy-draining")
	if len(old) > 0 {
		step(log, "Draining %d old instance(s)", len(old))
		d.drainAndStop(ctx, old, func(Instance) { failpoint("deploy-old-stopped") })
	}
	if dep, err = d.transition(ctx, dep, spec.StateSucceeded, ""); err != nil {
		return dep, err
	}
	failpoint("deploy-succeeded")
	d.mu.Lock()
	delete(d.restarts, svc.ID)
	d.mu.Unlock()
	d.pruneAfter(svc, rev)
	return dep, nil
}

// instanceError is a failure of one instance, whose log tail explains it.
type instanceError struct {
	id, name string
	err      error
}

func (e *instanceError) Error() string { return fmt.Sprintf("instance %s: %v", e.name, e.err) }
func (e *instanceError) Unwrap() error { return e.err }

// startAll starts the wanted instances, all at once. On an error it returns
// those that started, for the caller to remove.
func (d *Deployer) startAll(ctx context.Context, rev spec.Revision, depID string, want map[string]int, secrets map[string]string) ([]Instance, error) {
	var (
		mu      sync.Mutex
		started []Instance
		errs    []error
		wg      sync.WaitGroup
	)
	for _, p := range processTypes(rev) {
		for range want[p] {
			s, err := d.instanceSpec(ctx, rev, depID, p, secrets)
			if err != nil {
				return started, err
			}
			wg.Go(func() {
				inst, err := d.cfg.Runtime.Start(ctx, s)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("starting %s: %w", s.Name, err))
					return
				}
				started = append(started, inst)
			})
		}
	}
	wg.Wait()
	return started, errors.Join(errs...)
}

// waitAll waits until every new instance is ready: web instances pass
// their health check; other process types are still running after a short
// while (they answer nothing, so surviving their start is the check).
func (d *Deployer) waitAll(ctx context.Context, insts []Instance, rev spec.Revision) error {
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for n, inst := range insts {
		wg.Go(func() {
			var err error
			if inst.Labels[LabelProcess] == spec.WebProcess {
				err = d.waitReady(ctx, inst, rev)
			} else {
				err = d.waitSurvives(ctx, inst, 2*time.Second)
			}
			if err != nil {
				errs[n] = &instanceError{id: inst.ID, name: inst.Name, err: err}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the first; the others are usually the same
		}
	}
	return nil
}

func (d *Deployer) waitSurvives(ctx context.Context, inst Instance, d0 time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d0):
	}
	cur, err := d.cfg.Runtime.Inspect(ctx, inst.ID)
	if err != nil {
		return err
	}
	if !cur.Running() {
		return fmt.Errorf("%w with code %d%s", errExited, cur.ExitCode, oomNote(cur))
	}
	return nil
}

// removeAll removes instances (a failed rollout's), keeping nothing.
func (d *Deployer) removeAll(insts []Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, i := range insts {
		if err := d.remove(ctx, i); err != nil {
			d.log.Warn("removing a failed instance; the reconciler will retry", "instance", i.Name, "err", err)
		}
		d.forget(i.ID)
	}
}

// drainAndStop waits, per instance and all at once, until the router has no
// request left at it (up to DrainTimeout), then stops and removes it. The
// instances must already be out of the routes.
func (d *Deployer) drainAndStop(ctx context.Context, insts []Instance, stopped func(Instance)) {
	var wg sync.WaitGroup
	for _, i := range insts {
		wg.Go(func() {
			if i.Running() && i.IP != "" {
				d.drain(ctx, i)
			}
			if err := d.cfg.Runtime.Stop(ctx, i.ID, d.cfg.StopGrace); err != nil {
				d.log.Warn("stopping an old instance", "instance", i.Name, "err", err)
			}
			stopped(i)
			if err := d.remove(ctx, i); err != nil {
				d.log.Warn("removing an old instance; the reconciler will retry", "instance", i.Name, "err", err)
			}
			d.forget(i.ID)
		})
	}
	wg.Wait()
}

// drain waits until no request is in flight at any address of the
// instance, or DrainTimeout.
func (d *Deployer) drain(ctx context.Context, i Instance) {
	deadline := time.Now().Add(d.cfg.DrainTimeout)
	addrs := d.instanceAddrs(i)
	for time.Now().Before(deadline) {
		busy := 0
		for _, a := range addrs {
			busy += d.cfg.Router.InFlight(a)
		}
		if busy == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.log.Info("drain timed out; stopping the instance with requests in flight", "instance", i.Name, "timeout", d.cfg.DrainTimeout)
}

// instanceAddrs are the addresses the router may know an instance by: its
// IP with every port a revision of the service listened on (the port is
// the revision's, which the instance's labels name).
func (d *Deployer) instanceAddrs(i Instance) []string {
	if i.IP == "" {
		return nil
	}
	rev, ok := d.revisionOf(i)
	if !ok {
		return nil
	}
	return []string{address(i, rev)}
}

// ofService are the instances of one service, sorted by name.
func ofService(all []Instance, serviceID string) []Instance {
	var out []Instance
	for _, i := range all {
		if i.Labels[LabelService] == serviceID {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (d *Deployer) forget(id string) {
	d.mu.Lock()
	delete(d.health, id)
	d.mu.Unlock()
}

// countServing is the number of running web instances not being retired.
func (d *Deployer) countServing(insts []Instance) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, i := range insts {
		if i.Running() && i.Labels[LabelProcess] == spec.WebProcess && d.retired[i.ID].IsZero() && !d.stopping[i.ID] {
			n++
		}
	}
	return n
}
