package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

// A directory is linked to a service (Heroku's git remote, Fly's fly.toml)
// so that `apprun deploy`, `rollback`, `scale`, `logs` and `ps` run in it
// need no --service. Links live in the CLI config file, keyed by absolute
// directory, so that nothing is written into the user's source tree.

// addServiceFlag registers --service on a command that acts on one service.
func addServiceFlag(cmd *cobra.Command, service *string) {
	cmd.Flags().StringVarP(service, "service", "s", "", "the service (default: the one this directory is linked to by `apprun deploy --service`, else the directory's name)")
}

// linkKey is the form of dir links are keyed by: absolute, with symlinks
// resolved when possible, so /tmp/app and /private/tmp/app are one link.
func linkKey(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// serviceFor returns the service a command acts on in dir: the one named
// (by flag or argument), else the one dir is linked to, else dir's name.
func (g *globals) serviceFor(named, dir string) (string, error) {
	if named != "" {
		if err := spec.ValidateName(named); err != nil {
			return "", usageErrorf("service name %q: %v", named, err)
		}
		return named, nil
	}
	key, err := linkKey(dir)
	if err != nil {
		return "", err
	}
	saved, err := g.loadCLIConfig()
	if err != nil {
		return "", err
	}
	if name := saved.Links[key]; name != "" {
		return name, nil
	}
	return serviceFromDir(key)
}

// link records that dir deploys to service. It reports whether the link is
// new or changed, so the command can say so once rather than on every
// deploy.
func (g *globals) link(dir, service string) (bool, error) {
	key, err := linkKey(dir)
	if err != nil {
		return false, err
	}
	saved, err := g.loadCLIConfig()
	if err != nil {
		return false, err
	}
	if saved.Links[key] == service {
		return false, nil
	}
	if saved.Links == nil {
		saved.Links = map[string]string{}
	}
	saved.Links[key] = service
	path, err := g.cliConfigPath()
	if err != nil {
		return false, err
	}
	if err := writeCLIConfig(path, saved); err != nil {
		return false, fmt.Errorf("linking %s to %s: %w", key, service, err)
	}
	return true, nil
}
