package bootstrap

import (
	"strings"
	"testing"
)

// upToDate observes every kept output as made from the current recipe.
func upToDate(steps []step) map[stepID]observation {
	obs := map[stepID]observation{}
	for _, s := range steps {
		if s.kind != kindScratch {
			obs[s.id] = observation{exists: true, hash: s.hash, id: "id-" + string(s.id)}
		}
	}
	return obs
}

func actions(ds []decision) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(string(d.action))
	}
	return b.String()
}

// TestPlan: the order is run, build, lifecycle, lifecycle image,
// buildpacks, builder.
func TestPlan(t *testing.T) {
	steps := recipes(testInputs())
	tests := []struct {
		name   string
		obs    func(map[stepID]observation)
		force  bool
		want   string
		states map[stepID]State
	}{
		{
			name:   "nothing exists",
			obs:    func(o map[stepID]observation) { clear(o) },
			want:   "build build build build build build",
			states: map[stepID]State{stepRun: StateMissing, stepLifecycle: StateMissing, stepBuildpacks: StateNotKept},
		},
		{
			name:   "everything up to date",
			obs:    func(map[stepID]observation) {},
			want:   "reuse reuse reuse reuse skip reuse",
			states: map[stepID]State{stepRun: StateUpToDate, stepBuilder: StateUpToDate},
		},
		{
			name:  "force",
			obs:   func(map[stepID]observation) {},
			force: true,
			want:  "build build build build build build",
		},
		{
			name:   "builder stale: the kept lifecycle is reused, the buildpacks are compiled",
			obs:    func(o map[stepID]observation) { o[stepBuilder] = observation{exists: true, hash: "sha256:old"} },
			want:   "reuse reuse reuse reuse build build",
			states: map[stepID]State{stepBuilder: StateStale},
		},
		{
			name:   "lifecycle tarball gone but every image up to date: not needed",
			obs:    func(o map[stepID]observation) { delete(o, stepLifecycle) },
			want:   "reuse reuse skip reuse skip reuse",
			states: map[stepID]State{stepLifecycle: StateMissing},
		},
		{
			name: "lifecycle image deleted: the tarball is made again for it alone",
			obs: func(o map[stepID]observation) {
				delete(o, stepLifecycle)
				delete(o, stepLifecycleImage)
			},
			want: "reuse reuse build build skip reuse",
		},
		{
			name:   "run image retagged by something else",
			obs:    func(o map[stepID]observation) { o[stepRun] = observation{exists: true, hash: ""} },
			want:   "build reuse reuse reuse skip reuse",
			states: map[stepID]State{stepRun: StateStale},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := upToDate(steps)
			tt.obs(obs)
			ds := plan(steps, obs, tt.force)
			if got := actions(ds); got != tt.want {
				t.Errorf("actions = %s, want %s", got, tt.want)
			}
			for _, d := range ds {
				if want, ok := tt.states[d.step.id]; ok && d.state != want {
					t.Errorf("%s: state %s, want %s", d.step.id, d.state, want)
				}
			}
		})
	}
}

func TestStatusReady(t *testing.T) {
	steps := recipes(testInputs())
	obs := upToDate(steps)
	delete(obs, stepLifecycle)
	st := status(plan(steps, obs, false))
	if !st.Ready() || len(st.NotReady()) != 0 {
		t.Errorf("a missing intermediate made the status not ready: %v", st.NotReady())
	}
	delete(obs, stepBuild)
	st = status(plan(steps, obs, false))
	if st.Ready() {
		t.Error("ready without the build image")
	}
	if got := st.NotReady(); len(got) != 1 || got[0] != "build image apprun/build:bookworm (missing)" {
		t.Errorf("NotReady = %q", got)
	}
}
