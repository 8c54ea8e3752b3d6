package main

// This file is the floor: what a user without apprun pays to run the same
// image, `docker run` on the same network until the container answers.

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/apprun/apprun/bench/internal/harness"
)

// floorRun is one `docker run` of the floor, with the engine's events.
type floorRun struct {
	total            time.Duration // docker run start → first 200
	created, started time.Duration // the engine's create and start events, from the docker run start
}

// floor runs image with `docker run` on the benchmark's network and times
// from the start of the command to the first 200 at the container's
// address; the container is removed after.
func (b *bench) floor(ctx context.Context, image string) (floorRun, error) {
	b.floorN++
	name := fmt.Sprintf("apprun-bench-deploy-%d-%d", b.pid, b.floorN)
	ip := b.floorIP(b.floorN)
	b.floors = append(b.floors, name)
	defer func() { _, _ = harness.Docker(context.WithoutCancel(ctx), "rm", "-f", name) }()
	pctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	if out, err := harness.Docker(pctx, "run", "-d", "--rm", "--name", name, "--label", "io.apprun.bench=deploy",
		"-e", "PORT=8080", "--network", b.network, "--ip", ip, image); err != nil {
		return floorRun{}, fmt.Errorf("docker run %s: %v: %s", image, err, out)
	}
	at, err := b.poll(pctx, b.direct, "http://"+ip+":8080/", "", "hello from go")
	if err != nil {
		return floorRun{}, fmt.Errorf("%s (%s) never answered 200: %w", name, image, err)
	}
	f := floorRun{total: at.Sub(start)}
	if ev, ok := b.events.wait("name="+name, 2*time.Second); ok {
		f.created, f.started = ev.created.Sub(start), ev.started.Sub(start)
	}
	return f, nil
}

// floorIP is the n-th static address for a floor container: in the
// subnet's upper half, a different one each time.
func (b *bench) floorIP(n int) string {
	a := b.subnet.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += 1<<(32-b.subnet.Bits()-1) + 10 + uint32(n%200)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}
