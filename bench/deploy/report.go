package main

// This file turns the runs into the two tables: apprun against the floor
// per step, and the phases each step's time splits into. Its output format
// is what bench/README.md quotes; change both together.

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what the tables are made of.
type report struct {
	began            time.Time
	load0, load1     string // the load average at the start and at the end
	first, dep, roll result
}

// print writes the tables to out.
func (r report) print(out io.Writer) {
	fmt.Fprintf(out, "apprun deploy path vs docker run, %s, %d cores, %s; load average at start %s, at end %s\n\n",
		r.began.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), r.load0, r.load1)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "step\truns\tapprun median (s)\tapprun min (s)\tdocker run median (s)\tdocker run min (s)\tapprun/floor (medians)\t(mins)\ttarget\t")
	row := func(name string, a, f []time.Duration, target string) {
		fmt.Fprintf(w, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%s\t\n", name, len(a),
			median(a).Seconds(), slices.Min(a).Seconds(), median(f).Seconds(), slices.Min(f).Seconds(),
			median(a).Seconds()/median(f).Seconds(), slices.Min(a).Seconds()/slices.Min(f).Seconds(), target)
	}
	row("first deploy, cold cache: serving", r.first.serving(), r.first.floor(), "(informational)")
	row("deploy, 1 file changed: serving", r.dep.serving(), r.dep.floor(), "≤ 10 s (absolute)")
	row("deploy, 1 file changed: done + GET", r.dep.done(), r.dep.floor(), "≤ 10 s (absolute)")
	row("rollout of a built image: serving", r.roll.serving(), r.roll.floor(), "≤ 1.5×")
	row("rollout of a built image: done + GET", r.roll.done(), r.roll.floor(), "≤ 1.5×")
	w.Flush()

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Phases, median of the runs (s): apprun's from its stream's step lines as they arrived and the")
	fmt.Fprintln(out, "engine's container events; docker run's (of the rollout step) from the engine's events:")
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "phase\tdeploy\trollout\tdocker run\t")
	phase := func(name string, d, ro, f []time.Duration) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", name, fmtMedian(d), fmtMedian(ro), fmtMedian(f))
	}
	phase("POST → Building (upload, unpack, record)", r.dep.between("", "building"), nil, nil)
	phase("build (Building → Built revision)", r.dep.between("building", "built"), nil, nil)
	phase("  of which the builder's own time", r.dep.builders(), nil, nil)
	if lc := r.dep.lines[0].lifecycle; len(lc) > 0 {
		phase("  Building → "+lc[0], r.dep.between("building", "lc:"+lc[0]), nil, nil)
		for k, name := range lc {
			next, to := "built", "Built revision"
			if k+1 < len(lc) {
				next, to = "lc:"+lc[k+1], lc[k+1]
			}
			phase("  "+name+" → "+to, r.dep.between("lc:"+name, next), nil, nil)
		}
	}
	phase("→ Starting revision", r.dep.between("built", "starting"), r.roll.between("", "starting"), nil)
	phase("→ container created (engine event)", r.dep.between("starting", "created"), r.roll.between("starting", "created"), r.roll.floorPhase("", "created"))
	phase("created → started (engine events)", r.dep.between("created", "started"), r.roll.between("created", "started"), r.roll.floorPhase("created", "started"))
	phase("started → Healthy / first 200 direct", r.dep.between("started", "healthy"), r.roll.between("started", "healthy"), r.roll.floorPhase("started", "200"))
	phase("Healthy → Routing (publish routes)", r.dep.between("healthy", "routing"), r.roll.between("healthy", "routing"), nil)
	phase("Routing → first 200 through the router", r.dep.between("routing", "serving"), r.roll.between("routing", "serving"), nil)
	phase("Routing → stream end (drain + stop old)", r.dep.between("routing", "end"), r.roll.between("routing", "end"), nil)
	phase("stream end → GET 200", r.dep.between("end", "done"), r.roll.between("end", "done"), nil)
	phase("total to serving / first 200", r.dep.serving(), r.roll.serving(), r.roll.floor())
	phase("total to done + GET", r.dep.done(), r.roll.done(), nil)
	w.Flush()
}

// result collects one step's runs.
type result struct {
	lines  []timeline
	floors []floorRun
}

func (r *result) serving() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.serving, true })
}

func (r *result) done() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.done, true })
}

func (r *result) floor() []time.Duration {
	return collect(r.floors, func(f floorRun) (time.Duration, bool) { return f.total, true })
}

// floorPhase is, per floor run, the time from mark a to mark b ("" is the
// docker run start; "created", "started" the engine's events; "200" the
// first answer).
func (r *result) floorPhase(a, b string) []time.Duration {
	return collect(r.floors, func(f floorRun) (time.Duration, bool) {
		at := func(k string) (time.Duration, bool) {
			switch k {
			case "created":
				return f.created, f.created > 0
			case "started":
				return f.started, f.started > 0
			case "200":
				return f.total, true
			}
			return 0, true
		}
		x, okA := at(a)
		y, okB := at(b)
		return y - x, okA && okB
	})
}

// between is, per run, the time from mark a to mark b: "" is the POST;
// "end" and "done" the stream's end and the GET after it; "serving" the
// first 200 of the new version; "created" and "started" the engine's
// events for the new instance; anything else a step key.
func (r *result) between(a, b string) []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) {
		at := func(k string) (time.Duration, bool) {
			switch k {
			case "":
				return 0, true
			case "end":
				return t.end, true
			case "done":
				return t.done, true
			case "serving":
				return t.serving, true
			}
			d, ok := t.steps[k]
			return d, ok
		}
		x, okA := at(a)
		y, okB := at(b)
		return y - x, okA && okB
	})
}

func (r *result) builders() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.builder, t.builder > 0 })
}

func collect[T any](xs []T, f func(T) (time.Duration, bool)) []time.Duration {
	var out []time.Duration
	for _, x := range xs {
		if d, ok := f(x); ok {
			out = append(out, d)
		}
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtMedian(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", median(ds).Seconds())
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
