package deployer

import (
	"context"
	"fmt"
	"time"

	"github.com/apprun/apprun/deployer/plan"
	"github.com/apprun/apprun/spec"
)

// backoff is the crash history of one process type of a service.
type backoff struct {
	count int
	next  time.Time
}

// Run reconciles every ReconcileInterval, and at once when kicked or when
// the engine reports that one of apprun's containers started or died,
// until ctx ends. Call Recover first.
func (d *Deployer) Run(ctx context.Context) error {
	go d.watchEvents(ctx)
	t := time.NewTicker(d.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		d.Reconcile(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.kick:
		}
	}
}

// watchEvents kicks the reconciler on container events, subscribing again
// when the stream breaks (the engine restarted).
func (d *Deployer) watchEvents(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := d.cfg.Runtime.Events(ctx)
		if err == nil {
			for ev := range ch {
				switch ev.Action {
				case "die", "oom", "start", "destroy":
					d.Kick()
				}
			}
		} else {
			d.log.Debug("container events unavailable; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		d.Kick() // the engine may have restarted: look at everything
	}
}

// Recover settles the deployments a previous process left unfinished (it
// was killed, or the machine stopped): one that got its routes published
// finishes as succeeded, since its revision serves; any other fails, and
// the previous revision, which never stopped serving, keeps the traffic.
// The reconciler then removes whatever instances they left.
func (d *Deployer) Recover(ctx context.Context) error {
	svcs, err := d.cfg.Store.ListServices(ctx)
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	for _, svc := range svcs {
		deps, err := d.cfg.Store.ListDeployments(ctx, svc.Name)
		if err != nil {
			return fmt.Errorf("listing deployments of %s: %w", svc.Name, err)
		}
		for _, dep := range deps {
			if dep.State.Final() {
				continue
			}
			switch dep.State {
			case spec.StateRouted, spec.StateDraining:
				if dep.State == spec.StateRouted {
					if dep, err = d.transition(ctx, dep, spec.StateDraining, ""); err != nil {
						return err
					}
				}
				if _, err = d.transition(ctx, dep, spec.StateSucceeded, ""); err != nil {
					return err
				}
				d.log.Info("finished an interrupted deployment", "service", svc.Name, "deployment", dep.ID)
			default:
				reason := fmt.Sprintf("interrupted: apprun stopped while the deployment was %s; the previous revision kept serving", dep.State)
				if _, err := d.transition(ctx, dep, spec.StateFailed, reason); err != nil {
					return err
				}
				d.log.Warn("failed an interrupted deployment", "service", svc.Name, "deployment", dep.ID, "state", dep.State)
			}
		}
	}
	return nil
}

// Reconcile makes one pass over every service: it compares what the store
// wants with what the engine runs and acts (see plan.Compute). A service
// being deployed is skipped; its deployment owns it.
func (d *Deployer) Reconcile(ctx context.Context) {
	// Instances first, services second: a container listed here existed
	// before the services were read, so its service, if it exists, is in
	// the list. The other order could see a service created (and
	// deployed) between the two reads as unknown, and stop its instances.
	all, err := d.list(ctx)
	if err != nil {
		d.log.Warn("reconcile: listing instances", "err", err)
		return
	}
	svcs, err := d.cfg.Store.ListServices(ctx)
	if err != nil {
		d.log.Warn("reconcile: listing services", "err", err)
		return
	}
	byService := map[string][]Instance{}
	present := map[string]bool{}
	for _, i := range all {
		byService[i.Labels[LabelService]] = append(byService[i.Labels[LabelService]], i)
		present[i.ID] = true
	}
	known := map[string]bool{}
	for _, svc := range svcs {
		known[svc.ID] = true
		unlock, ok := d.tryLock(svc.ID)
		if !ok {
			continue
		}
		d.reconcileService(ctx, svc, byService[svc.ID])
		unlock()
	}
	// Containers of a service the store does not know: it was deleted, or
	// the store was restored from a backup. Nothing routes to them.
	for id, insts := range byService {
		if known[id] {
			continue
		}
		for _, i := range insts {
			d.stopInBackground(i, "its service no longer exists")
		}
	}
	d.mu.Lock()
	for id := range d.health {
		if !present[id] {
			delete(d.health, id)
		}
	}
	for id := range d.retired {
		if !present[id] {
			delete(d.retired, id)
		}
	}
	d.mu.Unlock()
}

func (d *Deployer) reconcileService(ctx context.Context, svc spec.Service, insts []Instance) {
	now := d.cfg.Now()
	rev, ok, err := d.currentRevision(ctx, svc)
	if err != nil {
		d.log.Warn("reconcile: reading the current revision", "service", svc.Name, "err", err)
		return
	}
	in := plan.Input{DrainTimeout: d.cfg.DrainTimeout, Now: now, NotBefore: map[string]time.Time{}}
	if ok {
		in.Revision = rev.ID
		in.Desired = Desired(svc, rev, d.warmCount(svc.Name))
	}
	byID := map[string]Instance{}
	d.mu.Lock()
	for _, i := range insts {
		byID[i.ID] = i
		if d.stopping[i.ID] {
			// Being stopped already: not the plan's any more, and its
			// replacement may start.
			continue
		}
		h := d.health[i.ID]
		in.Instances = append(in.Instances, plan.Instance{
			ID: i.ID, Revision: i.Labels[LabelRevision], Process: i.Labels[LabelProcess],
			Running: i.Running(), Ready: h != nil && h.ready,
			RetiredAt: d.retired[i.ID], StartedAt: i.StartedAt,
		})
	}
	for p, b := range d.restarts[svc.ID] {
		in.NotBefore[p] = b.next
	}
	d.mu.Unlock()
	for n := range in.Instances {
		if i := byID[in.Instances[n].ID]; i.Running() {
			for _, a := range d.instanceAddrs(i) {
				in.Instances[n].InFlight += d.cfg.Router.InFlight(a)
			}
		}
	}
	a := plan.Compute(in)

	d.mu.Lock()
	// One crash per process type per pass: when the engine restarts, every
	// instance exits at once, and that is one event, not ten crashes in a
	// row with a back-off of minutes.
	counted := map[string]bool{}
	for _, c := range a.Crashed {
		if !counted[c.Process] {
			counted[c.Process] = true
			d.crashedLocked(svc.ID, c.Process, now)
		}
		i := byID[c.ID]
		d.log.Warn("instance exited; replacing it", "service", svc.Name, "instance", i.Name,
			"code", i.ExitCode, "oom", i.OOMKilled, "restarts", d.restarts[svc.ID][c.Process].count)
	}
	retired := map[string]bool{}
	for _, id := range a.Retire {
		retired[id] = true
		if d.retired[id].IsZero() {
			d.retired[id] = now
		}
	}
	var addrs []string
	for _, i := range insts {
		h := d.health[i.ID]
		if ok && i.Running() && !retired[i.ID] && !d.stopping[i.ID] && h != nil && h.ready &&
			i.Labels[LabelRevision] == rev.ID && i.Labels[LabelProcess] == spec.WebProcess {
			addrs = append(addrs, address(i, rev))
		}
	}
	d.mu.Unlock()

	if ok {
		if err := d.publish(ctx, svc, rev, addrs); err != nil {
			d.log.Warn("reconcile: publishing routes", "service", svc.Name, "err", err)
			return // retiring without new routes could drop requests
		}
	} else {
		d.unpublish(svc)
	}
	for _, id := range a.Stop {
		d.stopInBackground(byID[id], "retired")
	}
	for _, id := range a.Clear {
		if err := d.remove(ctx, byID[id]); err != nil {
			d.log.Warn("reconcile: removing an exited instance", "instance", byID[id].Name, "err", err)
		}
		d.forget(id)
	}
	if ok {
		d.startMissing(ctx, svc, rev, a.Start)
		d.checkHealth(ctx, svc, rev, insts, retired)
	}
}

// crashedLocked counts a crash of a process type toward its back-off.
func (d *Deployer) crashedLocked(serviceID, process string, now time.Time) {
	m := d.restarts[serviceID]
	if m == nil {
		m = map[string]*backoff{}
		d.restarts[serviceID] = m
	}
	b := m[process]
	if b == nil {
		b = &backoff{}
		m[process] = b
	}
	b.count++
	b.next = now.Add(plan.Backoff(b.count))
}

// startMissing starts the instances the plan asks for; each web instance
// is routed once it passes its first health check.
func (d *Deployer) startMissing(ctx context.Context, svc spec.Service, rev spec.Revision, start map[string]int) {
	if len(start) == 0 {
		return
	}
	secrets, err := d.cfg.Store.ServiceSecrets(ctx, svc.Name)
	if err != nil {
		d.log.Warn("reconcile: reading secrets", "service", svc.Name, "err", err)
		return
	}
	for _, p := range processTypes(rev) {
		for range start[p] {
			s, err := d.instanceSpec(ctx, rev, "", p, secrets)
			if err != nil {
				d.log.Warn("reconcile: preparing an instance", "service", svc.Name, "process", p, "err", err)
				return
			}
			inst, err := d.cfg.Runtime.Start(ctx, s)
			if err != nil {
				d.log.Warn("reconcile: starting an instance", "service", svc.Name, "process", p, "err", err)
				d.mu.Lock()
				d.crashedLocked(svc.ID, p, d.cfg.Now())
				d.mu.Unlock()
				continue
			}
			d.log.Info("instance started", "service", svc.Name, "process", p, "instance", inst.Name, "revision", rev.Number)
			d.awaitReady(ctx, svc, rev, inst)
		}
	}
}
