// Command apprun-buildpack is apprun's five buildpacks in one program. It is
// copied as bin/detect and bin/build into each buildpack directory (see
// buildpacks.WriteBuildpack), and into the static buildpack's launch layer
// as static-server; the name it runs under says what to do.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/apprun/apprun/builder/buildpacks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx)
	stop()
	os.Exit(code)
}

func run(ctx context.Context) int {
	env, err := buildpacks.EnvFromOS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return buildpacks.ExitError
	}
	inv, err := buildpacks.Dispatch(os.Args, buildpacks.ReadBuildpackTOML(env, os.Args[0]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return buildpacks.ExitError
	}
	return buildpacks.Run(ctx, inv, env)
}
