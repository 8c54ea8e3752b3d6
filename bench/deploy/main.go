// Command deploy benchmarks apprun's deploy path against the floor a user
// would otherwise pay: `docker run` of the same image until it answers.
// It starts a real `apprun serve` (its own data directory, API and router on
// free loopback ports, the local Docker engine), creates one service from
// the Go example and, side by side in one run, times:
//
//   - deploy, one file changed (warm build cache): POST of a tar.gz of the
//     source to /api/v1/services/{name}/deployments until the new version
//     answers through the router. The example's main.go is changed before
//     each run (the version string its handler prints, a one-line change
//     in one file), so the body says which version answered;
//   - rollout of a built image: POST .../rollback to the other of the two
//     newest revisions, alternating, until that revision answers through
//     the router;
//   - the floor: `docker run -d --rm -e PORT=8080 --network N --ip IP IMAGE`
//     of the same image (the revision's), then a GET of the container's
//     address every 5 ms until it answers 200.
//
// Each apprun step is reported twice: "serving" is the first 200 from the
// new version through the router (a poller GETs the router every 5 ms from
// the moment the stream says the new instances start), and "done" is the
// end of the deployment's NDJSON stream (which waits for the old instances
// to drain and stop) plus one GET through the router that must answer 200
// from the new version. The floor is timed from the start of `docker run`
// to the first 200. Which of apprun and the floor goes first alternates per
// run. A second table splits the time into phases: apprun's "-----> "
// steps and the build lifecycle's "===> " phases, timed as the stream's
// lines arrive, and the engine's create and start events of the new
// container (and of the floor's), followed with `docker events`.
//
//	go run ./bench/deploy              # 5 runs of each step
//	go run ./bench/deploy -runs 9 -v   # -v: each deployment's steps
//
// It needs the Docker engine and the builder images (`apprun builder
// bootstrap`). apprun's instances and the floor's containers share one
// bridge network the benchmark creates (isolated like apprun's default,
// passed as APPRUN_DEPLOY_NETWORK). At the end, and on Ctrl-C, it stops the
// server (SIGTERM), removes its containers (by the installation's label),
// the images and build cache volumes of the service, the network and the
// temporary directory.
//
// The docker CLI is run with argv, never a shell; the benchmark does not
// import the Docker SDK (see imports_test.go). The server, its API and the
// cleanup come from bench/internal/harness, shared with bench/gitpush.
package main

// This file holds the entry point, the run's state and the three steps
// harness.Main drives (Setup, then Measure in measure.go, then Cleanup);
// the other files are the parts of one run, by concern.

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/apprun/apprun/bench/internal/harness"
)

func main() {
	os.Exit(harness.Main(harness.Usage{
		Name:    "bench/deploy",
		Runs:    "runs of each step (median and min are reported)",
		Verbose: "print each deployment's steps with their times",
	}, func(f harness.Flags) harness.Bench {
		return &bench{flags: f, stamp: time.Now().Unix(), pid: os.Getpid(), versions: map[string]string{}}
	}))
}

// bench is one run's state: the server, the service and what to clean up.
type bench struct {
	flags harness.Flags
	stamp int64 // the run's start, in versions and names
	pid   int

	work    string           // temporary directory: binary, data dir, HOME, source copy
	src     *harness.Example // the copy of the example that gets deployed
	network string
	subnet  netip.Prefix // the network's; floor containers take static IPs from its upper half
	floorN  int

	srv   *harness.Server
	svcID string

	router *http.Client // GETs through the router
	direct *http.Client // the floor's GETs
	floors []string     // names of floor containers started

	versions map[string]string // revision ID → the version its image serves
	events   *engineEvents
}

// Setup makes the temporary directory, the source, the network, the server
// and the service.
func (b *bench) Setup(ctx context.Context) error {
	var err error
	if b.work, err = os.MkdirTemp("", "apprun-bench-deploy-"); err != nil {
		return err
	}
	b.router = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	b.direct = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

	// The source: a copy whose handler prints a version constant, so the
	// body says which revision answered.
	if b.src, err = harness.CopyExample(b.flags.Example, filepath.Join(b.work, "src")); err != nil {
		return err
	}
	return b.startServer(ctx, b.flags.Bin)
}

// Server is the server, for the log in an error report.
func (b *bench) Server() *harness.Server { return b.srv }

// Cleanup stops the event follower and then, through the harness, the
// server (so nothing new starts), and removes the containers, images,
// build caches and network of the run and its temporary directory.
func (b *bench) Cleanup() {
	if b.events != nil {
		b.events.stop()
	}
	harness.Teardown("bench/deploy", b.srv, harness.Leftovers{Services: []string{b.svcID}, Containers: b.floors, Network: b.network}, b.work)
}
