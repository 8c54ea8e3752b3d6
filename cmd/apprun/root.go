package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// globals are the flags every client command shares.
type globals struct {
	io      *stdio
	getenv  func(string) string
	server  string
	token   string
	json    bool
	cfgPath string
}

const defaultServer = "http://127.0.0.1:8700"

func newRootCmd(io *stdio, getenv func(string) string) *cobra.Command {
	g := &globals{io: io, getenv: getenv}
	root := &cobra.Command{
		Use:   "apprun",
		Short: "apprun turns source into a URL on your own machine",
		Long: `apprun is a self-hosted, App Runner-style platform: it builds source into an
image with Cloud Native Buildpacks, runs it as containers with request-based
autoscaling, and routes requests to them.

Start the platform with "apprun serve"; every other command talks to its API.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "API server URL (env APPRUN_SERVER; default: the one saved by login, else "+defaultServer+")")
	pf.StringVar(&g.token, "token", "", "API token (env APPRUN_TOKEN; default: the one saved by login)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON")
	pf.StringVar(&g.cfgPath, "cli-config", "", "CLI credentials file (env APPRUN_CLI_CONFIG; default $XDG_CONFIG_HOME/apprun/cli.json)")

	root.AddCommand(
		newServeCmd(g),
		newAdminCmd(g),
		newLoginCmd(g),
		newServicesCmd(g),
		newEnvCmd(g),
		newSecretsCmd(g),
		newDeploymentsCmd(g),
		newNetworksCmd(g),
		newDomainsCmd(g),
		newValidateCmd(g),
		newBuilderCmd(g),
		newBuildCmd(g),
		newDeployCmd(g),
		newRollbackCmd(g),
		newScaleCmd(g),
		newLogsCmd(g),
		newPsCmd(g),
		newKeysCmd(g),
		newGitRemoteCmd(g),
		newHooksCmd(g),
		newCACmd(g),
	)
	return root
}

// cliConfig is what `apprun login` saves, with the directories linked to
// services by `apprun deploy --service`.
type cliConfig struct {
	Server string `json:"server"`
	Token  string `json:"token"`
	// Links maps an absolute directory to the service that `apprun
	// deploy` (and rollback, scale, logs, ps) act on when run there.
	Links map[string]string `json:"links,omitempty"`
}

func (g *globals) cliConfigPath() (string, error) {
	if g.cfgPath != "" {
		return g.cfgPath, nil
	}
	if p := g.getenv("APPRUN_CLI_CONFIG"); p != "" {
		return p, nil
	}
	dir := g.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := g.getenv("HOME")
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("finding the CLI config directory: %w", err)
			}
			home = h
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "apprun", "cli.json"), nil
}

func (g *globals) loadCLIConfig() (cliConfig, error) {
	var c cliConfig
	p, err := g.cliConfigPath()
	if err != nil {
		return c, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("reading %s: %w", p, err)
	}
	return c, nil
}

// client resolves the server and token: flag, then environment, then what
// `apprun login` saved, then the local default.
func (g *globals) client() (*client, error) {
	saved, err := g.loadCLIConfig()
	if err != nil {
		return nil, err
	}
	server := firstNonEmpty(g.server, g.getenv("APPRUN_SERVER"), saved.Server, defaultServer)
	token := firstNonEmpty(g.token, g.getenv("APPRUN_TOKEN"), saved.Token)
	return newClient(server, strings.TrimSpace(token), version)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// call sends one API request and returns the answer. With --json the
// answer is printed as is and nil is returned, so the caller's human output
// is skipped: `raw, err := g.call(...); if raw == nil { return err }`.
func (g *globals) call(cmd *cobra.Command, method, path string, body any) (json.RawMessage, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.do(cmd.Context(), method, path, body, &raw); err != nil {
		return nil, err
	}
	if g.json {
		return nil, g.printRaw(raw)
	}
	return raw, nil
}

// decode reads an API answer into v.
func decode(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	return nil
}

// printJSON writes v indented, for --json.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.io.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
