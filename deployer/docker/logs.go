package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
)

// Logs copies the container's output to w. Containers run without a TTY,
// so the engine multiplexes stdout and stderr in frames; stdcopy takes
// them apart and both go to w. With Follow it returns nil when the
// container stops, and ctx's error when ctx ends first.
func (e *Engine) Logs(ctx context.Context, id string, opts deployer.LogOptions, w io.Writer) error {
	o := client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       "all",
	}
	if opts.Tail > 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		// Seconds.nanoseconds is the engine's own precise form.
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := e.openLogs(ctx, id, o)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("reading logs of container %s: %w", id, notFound(err))
		}
		return fmt.Errorf("reading logs of container %s: %w", id, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reading logs of container %s: %w", id, ctx.Err())
		}
		return fmt.Errorf("reading logs of container %s: %w", id, err)
	}
	return nil
}

// openLogs works around a data race in the client (v0.3.0): ContainerLogs
// registers context.AfterFunc(ctx, close) before it stores the stop
// function that close reads, so cancelling ctx races with the call (and
// a ctx cancelled at the wrong instant calls a nil function). The call
// gets a context of its own, cancelled only after the call has returned,
// from a goroutine that has seen the return; if ctx ends first, openLogs
// returns at once and a goroutine closes the stream when the call
// returns.
func (e *Engine) openLogs(ctx context.Context, id string, o client.ContainerLogsOptions) (io.ReadCloser, error) {
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	lctx, lcancel := context.WithCancel(context.WithoutCancel(ctx))
	ch := make(chan opened, 1)
	go func() {
		rc, err := e.cli.ContainerLogs(lctx, id, o)
		ch <- opened{rc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			lcancel()
			return nil, r.err
		}
		stop := context.AfterFunc(ctx, lcancel)
		return &logStream{ReadCloser: r.rc, done: func() { stop(); lcancel() }}, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.rc != nil {
				r.rc.Close()
			}
			lcancel()
		}()
		return nil, ctx.Err()
	}
}

// logStream releases openLogs's context when closed.
type logStream struct {
	io.ReadCloser
	done func()
}

func (l *logStream) Close() error {
	err := l.ReadCloser.Close()
	l.done()
	return err
}

// eventActions are the container events the deployer acts on.
var eventActions = []string{"start", "die", "stop", "oom", "destroy"}

// Events subscribes to the engine's events for apprun's containers. The
// channel closes when ctx ends or the stream breaks; a broken stream is
// logged.
func (e *Engine) Events(ctx context.Context) (<-chan deployer.Event, error) {
	// The client reports a failed subscription only on its error channel,
	// after it returns; a ping first makes "no engine" an error here, so
	// a caller does not spin on channels that close at once.
	if err := e.Ping(ctx); err != nil {
		return nil, fmt.Errorf("subscribing to events: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	res := e.cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", string(events.ContainerEventType)).
		Add("label", deployer.LabelManaged+"=true").
		Add("event", eventActions...)})
	out := make(chan deployer.Event, 16)
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case m := <-res.Messages:
				ev := deployer.Event{
					Action: string(m.Action),
					ID:     m.Actor.ID,
					Labels: m.Actor.Attributes,
					Time:   eventTime(m),
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case err := <-res.Err:
				if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
					e.log.Warn("the engine's event stream broke", "err", err)
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// eventTime prefers the nanosecond time; engines before API 1.22 sent
// seconds only.
func eventTime(m events.Message) time.Time {
	if m.TimeNano != 0 {
		return time.Unix(0, m.TimeNano)
	}
	return time.Unix(m.Time, 0)
}
