package harness

// This file is the life of a benchmark run, the same for every end-to-end
// benchmark: the shared flags, Ctrl-C, setup then measure, a cleanup that
// always runs, and an error report with the server's last log lines. The
// commands supply only what they set up and measure.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// PollEvery is the period of the benchmarks' pollers (through the router,
// and the floor's straight to a container): it bounds how late a first
// 200 is seen, and is the same everywhere so that their figures compare.
const PollEvery = 5 * time.Millisecond

// Flags are the flags every end-to-end benchmark takes.
type Flags struct {
	Runs    int    // runs of each step; the median and min are reported
	Example string // the Go example to deploy
	Bin     string // the apprun binary; "" builds one
	Verbose bool
}

// Usage names a benchmark and says what its flags mean for it.
type Usage struct {
	Name    string // "bench/deploy": the prefix of its error messages
	Runs    string // the help of -runs
	Verbose string // the help of -v
}

// Bench is one benchmark run, as Main drives it.
type Bench interface {
	// Setup starts the server and makes what the runs need.
	Setup(ctx context.Context) error
	// Measure runs the steps and prints the results.
	Measure(ctx context.Context) error
	// Cleanup stops the server and removes what the run made; it is
	// called once Setup has been, whatever it returned, and must not
	// use the run's context (Ctrl-C has cancelled it).
	Cleanup()
	// Server is the running server, nil if it did not start.
	Server() *Server
}

// Main parses the flags, makes the run with newBench and drives it, and
// returns the exit code: 0, 1 for a failed run, 2 for bad flags.
func Main(u Usage, newBench func(Flags) Bench) int {
	var f Flags
	flag.IntVar(&f.Runs, "runs", 5, u.Runs)
	flag.StringVar(&f.Example, "example", "examples/go", "the Go example to deploy (its main.go prints \"hello from go\")")
	flag.StringVar(&f.Bin, "apprun", "", "the apprun binary (default: go build ./cmd/apprun into the temporary directory)")
	flag.BoolVar(&f.Verbose, "v", false, u.Verbose)
	flag.Parse()
	if f.Runs < 1 {
		fmt.Fprintf(os.Stderr, "%s: -runs must be at least 1\n", u.Name)
		return 2
	}
	// Ctrl-C cancels the run, which then still cleans up in order.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := newBench(f)
	err := b.Setup(ctx)
	if err == nil {
		err = b.Measure(ctx)
	}
	b.Cleanup()
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("interrupted (%w); removed what the run made", err)
	}
	fmt.Fprintln(os.Stderr, u.Name+":", err)
	if tail := b.Server().Tail(40); tail != "" && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "last lines of the server's log:\n%s\n", tail)
	}
	return 1
}

// Teardown is the common end of a Cleanup: it stops srv (which may be
// nil), removes the leftovers (with the server's containers) and the
// run's temporary directory work, and reports failures on stderr under
// name. It runs on a fresh context, so it works after Ctrl-C.
func Teardown(name string, srv *Server, left Leftovers, work string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
	}
	if srv != nil {
		left.Installation = srv.Installation
	}
	if err := left.Remove(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
	}
	if work != "" {
		_ = os.RemoveAll(work)
	}
}
