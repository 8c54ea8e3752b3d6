package main

// This file follows the engine's container events, so the phases table can
// split "start an instance" into the engine's create and start, for
// apprun's instances and the floor's containers alike.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// engineTimes adds the engine's create and start events of the new web
// instance of t's deployment to t.steps, as "created" and "started".
func (b *bench) engineTimes(t *timeline) {
	ev, ok := b.events.wait("io.apprun.deployment="+t.dep.ID, 2*time.Second)
	if !ok {
		return
	}
	t.steps["created"] = ev.created.Sub(t.start)
	t.steps["started"] = ev.started.Sub(t.start)
}

// engineEvents follows the engine's container create and start events of
// apprun's web instances (keyed "io.apprun.deployment=ID") and of the
// floor's containers (keyed "name=NAME").
type engineEvents struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	seen map[string]*containerTimes
}

type containerTimes struct{ created, started time.Time }

func watchEvents(install string) (*engineEvents, error) {
	e := &engineEvents{seen: map[string]*containerTimes{}}
	e.cmd = exec.Command("docker", "events", "--format", "{{json .}}",
		"--filter", "type=container", "--filter", "event=create", "--filter", "event=start")
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("docker events: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev struct {
				Action   string `json:"Action"`
				TimeNano int64  `json:"timeNano"`
				Actor    struct {
					Attributes map[string]string `json:"Attributes"`
				} `json:"Actor"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			a := ev.Actor.Attributes
			var key string
			switch {
			case a["io.apprun.installation"] == install && a["io.apprun.process"] == "web":
				key = "io.apprun.deployment=" + a["io.apprun.deployment"]
			case a["io.apprun.bench"] == "deploy":
				key = "name=" + a["name"]
			default:
				continue
			}
			at := time.Unix(0, ev.TimeNano)
			e.mu.Lock()
			c := e.seen[key]
			if c == nil {
				c = &containerTimes{}
				e.seen[key] = c
			}
			switch {
			case ev.Action == "create" && c.created.IsZero():
				c.created = at
			case ev.Action == "start" && c.started.IsZero():
				c.started = at
			}
			e.mu.Unlock()
		}
	}()
	return e, nil
}

// wait returns the times of key's container once both events arrived.
func (e *engineEvents) wait(key string, timeout time.Duration) (containerTimes, bool) {
	for deadline := time.Now().Add(timeout); ; {
		e.mu.Lock()
		c, ok := e.seen[key]
		var ct containerTimes
		if ok {
			ct = *c
		}
		e.mu.Unlock()
		if ok && !ct.created.IsZero() && !ct.started.IsZero() {
			return ct, true
		}
		if time.Now().After(deadline) {
			return containerTimes{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *engineEvents) stop() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}
