package deployer

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apprun/apprun/internal/lines"
)

// LogQuery selects a service's output.
type LogQuery struct {
	Follow bool
	// Since skips older lines; Tail, when > 0, keeps the last Tail lines
	// (of all instances together) before following.
	Since    time.Time
	Tail     int
	Process  string
	Revision string
}

// LogLine is one line an instance printed.
type LogLine struct {
	Time     time.Time
	Instance string
	Process  string
	Revision string
	Line     string
}

// Logs emits the output of the service's instances, oldest first; with
// Follow it goes on, picking up instances that start later (a deploy, a
// restart), until ctx ends or emit fails.
func (d *Deployer) Logs(ctx context.Context, service string, q LogQuery, emit func(LogLine) error) error {
	svc, err := d.cfg.Store.GetService(ctx, service)
	if err != nil {
		return err
	}
	match := func(i Instance) bool {
		return (q.Process == "" || i.Labels[LabelProcess] == q.Process) &&
			(q.Revision == "" || i.Labels[LabelRevision] == q.Revision)
	}
	all, err := d.list(ctx)
	if err != nil {
		return fmt.Errorf("listing instances: %w", err)
	}
	var lines []LogLine
	seen := map[string]bool{}
	for _, i := range ofService(all, svc.ID) {
		if !match(i) {
			continue
		}
		seen[i.ID] = true
		w := newLineWriter(i, nil)
		if err := d.cfg.Runtime.Logs(ctx, i.ID, LogOptions{Since: q.Since, Tail: q.Tail, Timestamps: true}, w); err != nil {
			d.log.Debug("reading an instance's logs", "instance", i.Name, "err", err)
		}
		w.flush()
		lines = append(lines, w.collected...)
	}
	lines = append(lines, d.archivedLines(svc.ID, q)...)
	slices.SortStableFunc(lines, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	if q.Tail > 0 && len(lines) > q.Tail {
		lines = lines[len(lines)-q.Tail:]
	}
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	if !q.Follow {
		return nil
	}

	// Following: one stream per instance, lines emitted as they come.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var emitMu sync.Mutex
	send := func(l LogLine) error {
		emitMu.Lock()
		defer emitMu.Unlock()
		if err := emit(l); err != nil {
			cancel(err)
			return err
		}
		return nil
	}
	now := d.cfg.Now()
	follow := func(i Instance, since time.Time) {
		w := newLineWriter(i, send)
		_ = d.cfg.Runtime.Logs(ctx, i.ID, LogOptions{Follow: true, Since: since, Timestamps: true}, w)
		w.flush()
	}
	var wg sync.WaitGroup
	for _, i := range ofService(all, svc.ID) {
		if seen[i.ID] && i.Running() {
			wg.Go(func() { follow(i, now) })
		}
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			if err := context.Cause(ctx); err != context.Canceled {
				return err
			}
			return nil
		case <-t.C:
		}
		all, err := d.list(ctx)
		if err != nil {
			continue
		}
		for _, i := range ofService(all, svc.ID) {
			if !seen[i.ID] && match(i) {
				seen[i.ID] = true
				wg.Go(func() { follow(i, time.Time{}) })
			}
		}
	}
}

// lineWriter splits an instance's timestamped output into LogLines,
// collecting them or sending each.
type lineWriter struct {
	*lines.Writer
	inst      Instance
	collected []LogLine
	send      func(LogLine) error
}

func newLineWriter(inst Instance, send func(LogLine) error) *lineWriter {
	w := &lineWriter{inst: inst, send: send}
	w.Writer = &lines.Writer{Emit: w.line}
	return w
}

func (w *lineWriter) flush() { _ = w.Flush() }

func (w *lineWriter) line(s string) error {
	l := LogLine{Instance: w.inst.Name, Process: w.inst.Labels[LabelProcess], Revision: w.inst.Labels[LabelRevision], Line: s}
	// The engine prefixes each line with its RFC 3339 time and a space.
	if ts, rest, ok := bytes.Cut([]byte(s), []byte(" ")); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
			l.Time, l.Line = t, string(rest)
		}
	}
	if w.send != nil {
		return w.send(l)
	}
	w.collected = append(w.collected, l)
	return nil
}
