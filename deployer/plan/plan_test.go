package plan

import (
	"slices"
	"testing"
	"time"
)

func TestCompute(t *testing.T) {
	now := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	run := func(id, rev, proc string) Instance {
		return Instance{ID: id, Revision: rev, Process: proc, Running: true, Ready: true, StartedAt: now.Add(-time.Hour)}
	}
	for _, c := range []struct {
		name                string
		in                  Input
		start               map[string]int
		retire, stop, clear []string
		crashed             []string
	}{
		{
			name:  "nothing runs: start the desired count",
			in:    Input{Revision: "r1", Desired: map[string]int{"web": 2, "worker": 1}},
			start: map[string]int{"web": 2, "worker": 1},
		},
		{
			name: "all there: nothing to do",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 2},
				Instances: []Instance{run("a", "r1", "web"), run("b", "r1", "web")}},
		},
		{
			name: "an old revision's idle instance is retired and stopped",
			in: Input{Revision: "r2", Desired: map[string]int{"web": 1},
				Instances: []Instance{run("a", "r1", "web"), run("b", "r2", "web")}},
			retire: []string{"a"}, stop: []string{"a"},
		},
		{
			name: "a busy retired instance drains until the timeout",
			in: Input{Revision: "r2", Desired: map[string]int{"web": 1}, DrainTimeout: time.Minute, Now: now,
				Instances: []Instance{func() Instance {
					i := run("a", "r1", "web")
					i.InFlight, i.RetiredAt = 3, now.Add(-30*time.Second)
					return i
				}(), run("b", "r2", "web")}},
			retire: []string{"a"},
		},
		{
			name: "the drain timeout passed: stopped with requests in flight",
			in: Input{Revision: "r2", Desired: map[string]int{"web": 1}, DrainTimeout: time.Minute, Now: now,
				Instances: []Instance{func() Instance {
					i := run("a", "r1", "web")
					i.InFlight, i.RetiredAt = 3, now.Add(-2*time.Minute)
					return i
				}(), run("b", "r2", "web")}},
			retire: []string{"a"}, stop: []string{"a"},
		},
		{
			name: "a crashed instance is cleared, counted and replaced",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 2}, Now: now,
				Instances: []Instance{run("a", "r1", "web"), {ID: "b", Revision: "r1", Process: "web"}}},
			start: map[string]int{"web": 1}, clear: []string{"b"}, crashed: []string{"b"},
		},
		{
			name: "the back-off holds the replacement",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 1}, Now: now,
				NotBefore: map[string]time.Time{"web": now.Add(time.Second)},
				Instances: []Instance{{ID: "b", Revision: "r1", Process: "web"}}},
			clear: []string{"b"}, crashed: []string{"b"},
		},
		{
			name: "an exited instance of an old revision is cleared, not counted",
			in: Input{Revision: "r2", Desired: map[string]int{"web": 1},
				Instances: []Instance{{ID: "a", Revision: "r1", Process: "web"}, run("b", "r2", "web")}},
			clear: []string{"a"},
		},
		{
			name: "too many: the unready, then the newest, are retired",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 1},
				Instances: []Instance{
					{ID: "old", Revision: "r1", Process: "web", Running: true, Ready: true, StartedAt: now.Add(-2 * time.Hour)},
					{ID: "new", Revision: "r1", Process: "web", Running: true, Ready: true, StartedAt: now.Add(-time.Minute)},
					{ID: "unready", Revision: "r1", Process: "web", Running: true, StartedAt: now.Add(-3 * time.Hour)},
				}},
			retire: []string{"new", "unready"}, stop: []string{"new", "unready"},
		},
		{
			name: "scaled to zero: the process type is retired",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 1, "worker": 0},
				Instances: []Instance{run("a", "r1", "web"), run("w", "r1", "worker")}},
			retire: []string{"w"}, stop: []string{"w"},
		},
		{
			name: "a process type the revision lacks is retired",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 1},
				Instances: []Instance{run("a", "r1", "web"), run("c", "r1", "clock")}},
			retire: []string{"c"}, stop: []string{"c"},
		},
		{
			name:   "no revision serves: everything goes",
			in:     Input{Instances: []Instance{run("a", "r1", "web"), {ID: "b", Revision: "r1", Process: "web"}}},
			retire: []string{"a"}, stop: []string{"a"}, clear: []string{"b"},
		},
		{
			name: "once retired, never back in the count",
			in: Input{Revision: "r1", Desired: map[string]int{"web": 1}, Now: now, DrainTimeout: time.Minute,
				Instances: []Instance{func() Instance {
					i := run("a", "r1", "web")
					i.RetiredAt, i.InFlight = now.Add(-time.Second), 1
					return i
				}()}},
			start: map[string]int{"web": 1}, retire: []string{"a"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := Compute(c.in)
			if c.start == nil {
				c.start = map[string]int{}
			}
			if len(a.Start) != len(c.start) {
				t.Errorf("Start = %v, want %v", a.Start, c.start)
			}
			for p, n := range c.start {
				if a.Start[p] != n {
					t.Errorf("Start = %v, want %v", a.Start, c.start)
				}
			}
			same := func(what string, got, want []string) {
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			same("Retire", a.Retire, c.retire)
			same("Stop", a.Stop, c.stop)
			same("Clear", a.Clear, c.clear)
			var crashed []string
			for _, i := range a.Crashed {
				crashed = append(crashed, i.ID)
			}
			same("Crashed", crashed, c.crashed)
		})
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 0, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 100: 5 * time.Minute} {
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
