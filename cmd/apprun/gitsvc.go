package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/source"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// gitDeployer adapts the deployer to source.Deployer: a pushed commit,
// already checked out by source, is deployed like an uploaded directory
// but recorded as a git source (ref and commit).
type gitDeployer struct{ d *deployer.Deployer }

func (g gitDeployer) DeployGit(ctx context.Context, service, dir string, src spec.DeploymentSource, log io.Writer) (spec.Deployment, error) {
	return g.d.Deploy(ctx, deployer.DeployRequest{Service: service, Dir: dir, Source: src}, log)
}

// newGitServer sets up git push over smart HTTP (mounted on the API's
// listener under /git/) and SSH (on cfg.Git.SSHAddr). When the SSH address
// is taken (another apprun on this machine) SSH is turned off with a
// warning rather than failing the whole server; smart HTTP still works.
func newGitServer(cfg serverConfig, st store.Store, dep *deployer.Deployer, log *slog.Logger) (*source.Server, error) {
	scfg := source.Config{
		DataDir:    cfg.DataDir,
		Store:      st,
		Deployer:   gitDeployer{d: dep},
		SSHAddr:    cfg.Git.SSHAddr,
		ServiceURL: cfg.serviceURL,
	}
	srv, err := source.New(scfg, log)
	if err != nil && scfg.SSHAddr != "" && errors.Is(err, syscall.EADDRINUSE) {
		log.Warn("git over SSH is off: its address is in use", "addr", scfg.SSHAddr, "err", err)
		scfg.SSHAddr = ""
		srv, err = source.New(scfg, log)
	}
	if err != nil {
		return nil, fmt.Errorf("setting up git push: %w", err)
	}
	return srv, nil
}
