package bootstrap

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// execute carries out the decisions in order, writing a step line per
// output, and stops at the first failure, naming the step.
func execute(ctx context.Context, decisions []decision, do func(context.Context, step) error, progress io.Writer) ([]Output, error) {
	outputs := make([]Output, 0, len(decisions))
	for _, d := range decisions {
		o := outputOf(d)
		label := fmt.Sprintf("%s %s", d.step.id, displayName(d.step))
		switch d.action {
		case ActionReuse:
			fmt.Fprintf(progress, "-----> %s (up to date)\n", label)
		case ActionSkip:
			fmt.Fprintf(progress, "-----> %s (not needed)\n", label)
		case ActionBuild:
			if err := ctx.Err(); err != nil {
				return outputs, fmt.Errorf("step %s: %w", d.step.id, context.Cause(ctx))
			}
			fmt.Fprintf(progress, "       building %s (%s)\n", label, d.state)
			start := time.Now()
			err := do(ctx, d.step)
			o.Elapsed = time.Since(start)
			if err != nil {
				fmt.Fprintf(progress, "-----> %s (failed, %s)\n", label, round(o.Elapsed))
				return outputs, fmt.Errorf("step %s: %w", d.step.id, err)
			}
			fmt.Fprintf(progress, "-----> %s (built, %s)\n", label, round(o.Elapsed))
		}
		outputs = append(outputs, o)
	}
	return outputs, nil
}

// displayName is what a step line shows: the image name, or the version
// for the lifecycle tarball (its path is in the Result).
func displayName(s step) string {
	if s.remark != "" {
		return s.remark
	}
	return s.name
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func summary(outputs []Output) string {
	n := map[Action]int{}
	for _, o := range outputs {
		n[o.Action]++
	}
	return fmt.Sprintf("%d built, %d up to date, %d not needed", n[ActionBuild], n[ActionReuse], n[ActionSkip])
}

// observe finds what exists of each output: images by their label, the
// lifecycle tarball by its hashed name (another hash of the same version
// means stale).
func (r *runner) observe(ctx context.Context, steps []step) (map[stepID]observation, error) {
	obs := map[stepID]observation{}
	for _, s := range steps {
		switch s.kind {
		case kindImage:
			info, ok, err := r.eng.image(ctx, s.name)
			if err != nil {
				return nil, fmt.Errorf("step %s: %w", s.id, err)
			}
			obs[s.id] = observation{exists: ok, hash: info.Labels[HashLabel], id: info.ID}
		case kindFile:
			if _, err := os.Stat(s.name); err == nil {
				obs[s.id] = observation{exists: true, hash: s.hash}
				continue
			}
			entries, _ := os.ReadDir(filepath.Dir(s.name))
			for _, e := range entries {
				if isLifecycleFile(e.Name(), r.in.LifecycleVersion) {
					obs[s.id] = observation{exists: true, hash: "other"}
				}
			}
		}
	}
	return obs, nil
}

// removeReplaced removes the images that a rebuilt output replaced, in
// reverse order so that an old lifecycle image goes before the old run
// image it was made from. An image still in use (by a container, or as the
// parent of another) stays: the engine refuses, and that is logged.
func (r *runner) removeReplaced(ctx context.Context, decisions []decision, obs map[stepID]observation) {
	for i := len(decisions) - 1; i >= 0; i-- {
		d := decisions[i]
		old := obs[d.step.id]
		if d.step.kind != kindImage || d.action != ActionBuild || old.id == "" {
			continue
		}
		now, ok, err := r.eng.image(ctx, d.step.name)
		if err != nil || !ok || now.ID == old.id {
			// Not replaced (the build failed, or the engine's cache gave
			// the same image back): the old image is the current one.
			continue
		}
		// Removing by ID deletes an image that has one tag left, so an old
		// image still tagged under another name (pack's builds are
		// reproducible: two builder names can share one ID) is kept.
		if prev, ok, err := r.eng.image(ctx, old.id); err != nil || !ok || len(prev.Tags) > 0 {
			continue
		}
		if err := r.eng.removeImage(ctx, old.id); err != nil {
			r.log.Debug("keeping a replaced image", "step", d.step.id, "id", old.id, "err", err)
		} else {
			r.log.Debug("removed a replaced image", "step", d.step.id, "id", old.id)
		}
	}
}

// pruneFiles removes lifecycle tarballs of other hashes, left by earlier
// runs whose inputs have since changed.
func (r *runner) pruneFiles() {
	current := filepath.Base(r.stepName(stepLifecycle))
	entries, err := os.ReadDir(r.in.WorkDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lifecycle-") && strings.HasSuffix(e.Name(), ".tgz") && e.Name() != current {
			if err := os.Remove(filepath.Join(r.in.WorkDir, e.Name())); err == nil {
				r.log.Debug("removed an old lifecycle tarball", "file", e.Name())
			}
		}
	}
}
