// Command apprun is the whole platform in one binary: `apprun serve` runs the
// control plane, and every other command is a client of its HTTP API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/apprun/apprun/source"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// Run as git's pre-receive hook (a symlink to this executable), apprun
	// hands the push to the server that started git.
	if source.IsHook(os.Args[0]) {
		os.Exit(source.RunHook(context.Background(), os.Stdin, os.Stdout, os.Getenv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. It takes
// its streams and environment as arguments so tests run it in-process.
func run(ctx context.Context, args []string, io *stdio, getenv func(string) string) int {
	root := newRootCmd(io, getenv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(io.err, "error: %v\n", err)
	}
	return exitCode(err)
}
