package deployer

import (
	"context"
	"time"

	"github.com/apprun/apprun/spec"
)

// awaitReady waits in the background for a new (or, after a restart of
// apprun, an unknown) instance's first healthy check, then asks the
// reconciler to route it. An instance that never gets healthy is stopped
// and counts as a crash.
func (d *Deployer) awaitReady(ctx context.Context, svc spec.Service, rev spec.Revision, inst Instance) {
	d.mu.Lock()
	if h := d.health[inst.ID]; h != nil && (h.ready || h.probing) {
		d.mu.Unlock()
		return
	}
	d.health[inst.ID] = &instHealth{probing: true}
	d.mu.Unlock()
	go func() {
		var err error
		if inst.Labels[LabelProcess] == spec.WebProcess {
			err = d.waitReady(ctx, inst, rev)
		}
		d.mu.Lock()
		h := d.health[inst.ID]
		if h == nil {
			h = &instHealth{}
			d.health[inst.ID] = h
		}
		h.probing = false
		if err == nil {
			h.ready, h.lastCheck = true, d.cfg.Now()
		} else if ctx.Err() == nil {
			d.crashedLocked(svc.ID, inst.Labels[LabelProcess], d.cfg.Now())
		}
		d.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			d.log.Warn("instance never got healthy; replacing it", "service", svc.Name, "instance", inst.Name, "err", err)
			d.stopInBackground(inst, "never got healthy")
		}
		d.Kick()
	}()
}

// checkHealth runs the service's health check on its ready web instances
// at the check's interval (App Runner's semantics after start: the
// unhealthy threshold's number of failures in a row replaces an instance),
// and probes running instances the deployer knows nothing of (apprun
// restarted) so they are routed again after one success.
func (d *Deployer) checkHealth(ctx context.Context, svc spec.Service, rev spec.Revision, insts []Instance, retired map[string]bool) {
	hc := rev.Service.HealthCheck
	interval := time.Duration(hc.Interval) * time.Second
	now := d.cfg.Now()
	for _, i := range insts {
		if !i.Running() || retired[i.ID] || i.Labels[LabelRevision] != rev.ID {
			continue
		}
		d.mu.Lock()
		h, stopping := d.health[i.ID], d.stopping[i.ID]
		due := h != nil && h.ready && !h.probing && now.Sub(h.lastCheck) >= interval
		if due {
			h.probing = true
		}
		d.mu.Unlock()
		if stopping {
			continue
		}
		if h == nil {
			d.awaitReady(ctx, svc, rev, i)
			continue
		}
		if !due || i.Labels[LabelProcess] != spec.WebProcess {
			if due {
				d.mu.Lock()
				h.probing, h.lastCheck = false, now
				d.mu.Unlock()
			}
			continue
		}
		go func() {
			err := probe(ctx, hc, address(i, rev))
			d.mu.Lock()
			h.probing, h.lastCheck = false, d.cfg.Now()
			if err == nil {
				h.failures = 0
				d.mu.Unlock()
				return
			}
			h.failures++
			unhealthy := h.failures >= max(hc.UnhealthyThreshold, 1)
			if unhealthy {
				h.ready = false
				d.crashedLocked(svc.ID, i.Labels[LabelProcess], d.cfg.Now())
			}
			d.mu.Unlock()
			if unhealthy {
				d.log.Warn("instance unhealthy; replacing it", "service", svc.Name, "instance", i.Name, "err", err)
				d.Kick() // unpublish it first
				d.stopInBackground(i, "unhealthy")
			}
		}()
	}
}

// stopInBackground drains (when routed), stops and removes an instance
// without holding up the reconciler; an instance already being stopped is
// left to that.
func (d *Deployer) stopInBackground(i Instance, why string) {
	d.mu.Lock()
	if d.stopping[i.ID] {
		d.mu.Unlock()
		return
	}
	d.stopping[i.ID] = true
	d.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.StopGrace+time.Minute)
		defer cancel()
		if err := d.cfg.Runtime.Stop(ctx, i.ID, d.cfg.StopGrace); err != nil {
			d.log.Warn("stopping an instance", "instance", i.Name, "err", err)
		}
		if err := d.remove(ctx, i); err != nil {
			d.log.Warn("removing an instance", "instance", i.Name, "err", err)
		}
		d.log.Info("instance stopped", "instance", i.Name, "why", why)
		d.mu.Lock()
		delete(d.stopping, i.ID)
		delete(d.health, i.ID)
		d.mu.Unlock()
		d.Kick()
	}()
}
