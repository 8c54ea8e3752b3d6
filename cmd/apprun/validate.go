package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [FILE|DIR]",
		Short: "Check an apprun.yaml (or apprunner.yaml) on the server",
		Long: `Check an apprun.yaml against the server's parser and print every problem with
its line. With a directory (default "."), it checks DIR/apprun.yaml, else
DIR/apprunner.yaml.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			file, err := findAppConfig(path)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("reading %s: %w", file, err)
			}
			raw, err := g.call(cmd, "POST", "/api/v1/config/validate", data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if raw == nil {
				return nil
			}
			fmt.Fprintf(g.io.out, "%s is valid\n", file)
			return nil
		},
	}
}

// findAppConfig resolves a file or a directory holding apprun.yaml or App
// Runner's apprunner.yaml.
func findAppConfig(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", usageErrorf("%v", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	for _, name := range []string{"apprun.yaml", "apprun.yml", "apprunner.yaml", "apprunner.yml"} {
		p := filepath.Join(path, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", usageErrorf("%s has no apprun.yaml or apprunner.yaml", path)
}
