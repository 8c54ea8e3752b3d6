package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newLoginCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check a token against the server and save both for later commands",
		Long: `Check --token (or a token read from stdin) against --server and save both in
the CLI config file (mode 0600), so later commands need neither flag.`,
		Example: `  apprun login --server http://127.0.0.1:8700 --token apprun_...
  echo "$TOKEN" | apprun login --server https://apprun.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server := firstNonEmpty(g.server, g.getenv("APPRUN_SERVER"), defaultServer)
			token := firstNonEmpty(g.token, g.getenv("APPRUN_TOKEN"))
			if token == "" {
				fmt.Fprint(g.io.err, "Token: ")
				line, err := bufio.NewReader(g.io.in).ReadString('\n')
				if err != nil && line == "" {
					return usageErrorf("no token: pass --token, set APPRUN_TOKEN, or give it on stdin")
				}
				token = strings.TrimSpace(line)
			}
			c, err := newClient(server, token, version)
			if err != nil {
				return err
			}
			var who struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			if err := c.do(cmd.Context(), "GET", "/api/v1/whoami", nil, &who); err != nil {
				return fmt.Errorf("checking the token: %w", err)
			}
			path, err := g.cliConfigPath()
			if err != nil {
				return err
			}
			// Links made by `apprun deploy --service` survive a new login;
			// a file that cannot be read is replaced, as before links.
			saved, err := g.loadCLIConfig()
			if err != nil {
				saved = cliConfig{}
			}
			saved.Server, saved.Token = server, token
			if err := writeCLIConfig(path, saved); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"server": server, "token": who, "saved": path})
			}
			fmt.Fprintf(g.io.out, "Logged in to %s as token %q; saved to %s\n", server, who.Name, path)
			return nil
		},
	}
}

// writeCLIConfig saves credentials readable by the user only, atomically.
func writeCLIConfig(path string, c cliConfig) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cli-*.json")
	if err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving credentials: %w", err)
	}
	return nil
}
