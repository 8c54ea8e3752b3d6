package bootstrap

import (
	"fmt"
	"time"
)

// State is what exists of an output before a run.
type State string

const (
	// StateUpToDate: the output exists and was made from the current inputs.
	StateUpToDate State = "up to date"
	// StateMissing: nothing exists under the output's name.
	StateMissing State = "missing"
	// StateStale: the output exists but was made from other inputs (or by
	// something else than the bootstrap).
	StateStale State = "stale"
	// StateNotKept: the output is made afresh whenever it is needed (the
	// buildpacks, which only the builder uses).
	StateNotKept State = "not kept"
)

// Action is what a run does about an output: in a Status, what Run would
// do; in a Result, what it did.
type Action string

const (
	ActionBuild Action = "build"
	ActionReuse Action = "reuse"
	// ActionSkip: an intermediate that is not up to date, which nothing
	// made in this run needs.
	ActionSkip Action = "skip"
)

// Output is one output of the bootstrap.
type Output struct {
	// Step names the output: "run image", "build image", "lifecycle",
	// "lifecycle image", "buildpacks" or "builder image".
	Step string `json:"step"`
	// Name is the image reference, the lifecycle tarball's path, or the
	// buildpacks' version.
	Name string `json:"name"`
	// Hash is the sha256 of the output's inputs.
	Hash   string `json:"hash"`
	State  State  `json:"state"`
	Action Action `json:"action"`
	// Image is true for the outputs kept in the engine.
	Image bool `json:"image"`
	// Elapsed is the time the step took (in a Result).
	Elapsed time.Duration `json:"elapsed,omitempty"`
}

// Status is what Check found: every output, its state and what Run would do.
type Status struct {
	Outputs []Output `json:"outputs"`
}

// Ready reports whether every image is up to date, so that builds can run
// without a bootstrap. Intermediates do not count: a missing lifecycle
// tarball is made again only when an image needs it.
func (s Status) Ready() bool {
	for _, o := range s.Outputs {
		if o.Image && o.State != StateUpToDate {
			return false
		}
	}
	return true
}

// NotReady lists the images that are missing or stale, as "run image
// apprun/run:bookworm (missing)".
func (s Status) NotReady() []string {
	var out []string
	for _, o := range s.Outputs {
		if o.Image && o.State != StateUpToDate {
			out = append(out, fmt.Sprintf("%s %s (%s)", o.Step, o.Name, o.State))
		}
	}
	return out
}

// observation is what exists under a step's name: whether anything does and
// the hash it carries.
type observation struct {
	exists bool
	hash   string
	id     string // the image's ID, to remove it once replaced
}

// stateOf compares what exists with the step's recipe.
func stateOf(s step, o observation) State {
	switch {
	case s.kind == kindScratch:
		return StateNotKept
	case !o.exists:
		return StateMissing
	case o.hash != s.hash:
		return StateStale
	default:
		return StateUpToDate
	}
}

// decision is the plan for one step.
type decision struct {
	step   step
	state  State
	action Action
}

// plan decides, for each step, whether to build it, reuse it or skip it.
// Images are built when they are missing or stale (or always, with force).
// An intermediate is built only when a step that depends on it is built and
// it is not up to date (or force); one that nothing needs is reused if it is
// up to date and skipped if not. steps must be in
// dependency order; plan is pure.
func plan(steps []step, observed map[stepID]observation, force bool) []decision {
	decisions := make([]decision, len(steps))
	needed := map[stepID]bool{}
	// Walk backwards, so that every step's dependents are decided first.
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		state := stateOf(s, observed[s.id])
		d := decision{step: s, state: state}
		switch {
		case s.kind != kindImage && !needed[s.id] && state == StateUpToDate:
			d.action = ActionReuse
		case s.kind != kindImage && !needed[s.id]:
			d.action = ActionSkip
		case force || state != StateUpToDate:
			d.action = ActionBuild
		default:
			d.action = ActionReuse
		}
		if d.action == ActionBuild {
			for _, dep := range s.deps {
				needed[dep] = true
			}
		}
		decisions[i] = d
	}
	return decisions
}

// status turns a plan into what Check reports.
func status(decisions []decision) Status {
	st := Status{Outputs: make([]Output, 0, len(decisions))}
	for _, d := range decisions {
		st.Outputs = append(st.Outputs, outputOf(d))
	}
	return st
}

func outputOf(d decision) Output {
	return Output{
		Step:   string(d.step.id),
		Name:   d.step.name,
		Hash:   d.step.hash,
		State:  d.state,
		Action: d.action,
		Image:  d.step.kind == kindImage,
	}
}
