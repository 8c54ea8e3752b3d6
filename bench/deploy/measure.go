package main

// This file runs the benchmark's steps, apprun and the floor side by side
// in each run, alternating which goes first, and keeps each run's times
// for the report.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/apprun/apprun/spec"
)

// Measure runs each step and prints the tables.
func (b *bench) Measure(ctx context.Context) error {
	runs := b.flags.Runs
	r := report{load0: loadavg(), began: time.Now().UTC()}
	var err error
	if r.first, r.dep, err = b.measureDeploys(ctx, runs); err != nil {
		return err
	}
	if r.roll, err = b.measureRollouts(ctx, runs); err != nil {
		return err
	}
	r.load1 = loadavg()
	r.print(os.Stdout)
	return nil
}

// deployVersion deploys the source with version n and records which
// version its revision serves.
func (b *bench) deployVersion(ctx context.Context, n int) (timeline, error) {
	v, archive, err := b.version(n)
	if err != nil {
		return timeline{}, err
	}
	t, err := b.deploy(ctx, fmt.Sprintf("deploy #%d", n), "/api/v1/services/"+service+"/deployments", "application/gzip", archive, v)
	if err == nil {
		b.versions[t.dep.RevisionID] = v
		b.engineTimes(&t)
	}
	return t, err
}

// measureDeploys runs the first deploy (cold build cache, informational)
// and then runs deploys with one file changed (warm cache).
func (b *bench) measureDeploys(ctx context.Context, runs int) (first, dep result, err error) {
	fmt.Fprintln(os.Stderr, "first deploy (cold build cache) ...")
	tl, err := b.deployVersion(ctx, 0)
	if err != nil {
		return first, dep, fmt.Errorf("first deploy: %w", err)
	}
	img, err := b.revisionImage(ctx, tl.dep.RevisionID)
	if err != nil {
		return first, dep, err
	}
	fl, err := b.floor(ctx, img)
	if err != nil {
		return first, dep, err
	}
	first.lines, first.floors = append(first.lines, tl), append(first.floors, fl)
	fmt.Fprintf(os.Stderr, "first deploy: apprun serving %.2fs, done %.2fs; docker run %.3fs\n", tl.serving.Seconds(), tl.done.Seconds(), fl.total.Seconds())

	// The floor runs the image serving at that moment: the new one after
	// apprun, the previous one before (the same app, one string apart).
	for i := 1; i <= runs; i++ {
		var t timeline
		var f floorRun
		var errA, errF error
		if i%2 == 1 {
			if t, errA = b.deployVersion(ctx, i); errA == nil {
				if img, errA = b.revisionImage(ctx, t.dep.RevisionID); errA == nil {
					f, errF = b.floor(ctx, img)
				}
			}
		} else {
			if f, errF = b.floor(ctx, img); errF == nil {
				if t, errA = b.deployVersion(ctx, i); errA == nil {
					img, errA = b.revisionImage(ctx, t.dep.RevisionID)
				}
			}
		}
		if err := errors.Join(errA, errF); err != nil {
			return first, dep, fmt.Errorf("deploy run %d: %w", i, err)
		}
		dep.lines, dep.floors = append(dep.lines, t), append(dep.floors, f)
		fmt.Fprintf(os.Stderr, "deploy #%d: apprun serving %.2fs, done %.2fs (build %.2fs); docker run %.3fs\n",
			i, t.serving.Seconds(), t.done.Seconds(), (t.steps["built"] - t.steps["building"]).Seconds(), f.total.Seconds())
	}
	return first, dep, nil
}

// measureRollouts rolls the service back and forth between its two newest
// revisions: rollouts of built images.
func (b *bench) measureRollouts(ctx context.Context, runs int) (result, error) {
	var roll result
	revs, err := b.revisions(ctx)
	if err != nil {
		return roll, err
	}
	if len(revs) < 2 {
		return roll, fmt.Errorf("the service has %d revisions, want at least 2", len(revs))
	}
	pair := [2]spec.Revision{revs[1], revs[0]} // [0] serves now: roll to [1] first
	for i := 1; i <= runs; i++ {
		target := pair[(i-1)%2]
		v, ok := b.versions[target.ID]
		if !ok {
			return roll, fmt.Errorf("revision %s was not made by this run", target.ID)
		}
		body, _ := json.Marshal(map[string]string{"revision": target.ID})
		rollback := func() (timeline, error) {
			t, err := b.deploy(ctx, fmt.Sprintf("rollout #%d", i), "/api/v1/services/"+service+"/rollback", "application/json", body, v)
			if err == nil {
				b.engineTimes(&t)
			}
			return t, err
		}
		var t timeline
		var f floorRun
		var errA, errF error
		if i%2 == 1 {
			if t, errA = rollback(); errA == nil {
				f, errF = b.floor(ctx, target.Image)
			}
		} else {
			if f, errF = b.floor(ctx, target.Image); errF == nil {
				t, errA = rollback()
			}
		}
		if err := errors.Join(errA, errF); err != nil {
			return roll, fmt.Errorf("rollout run %d: %w", i, err)
		}
		roll.lines, roll.floors = append(roll.lines, t), append(roll.floors, f)
		fmt.Fprintf(os.Stderr, "rollout #%d to revision #%d: apprun serving %.3fs, done %.3fs; docker run %.3fs\n",
			i, target.Number, t.serving.Seconds(), t.done.Seconds(), f.total.Seconds())
	}
	return roll, nil
}
