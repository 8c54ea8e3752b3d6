package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/store"
)

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer the server's data directory directly (no API)",
	}
	token := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var dataDir, configPath, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it (and nothing else) on stdout",
		Long: `Create an API token in the server's store and print it on stdout, alone, so
scripts can capture it: TOKEN=$(apprun admin token create --data-dir DIR).
It works whether or not the server is running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServerConfig(configPath, g.getenv)
			if err != nil {
				return err
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			st, err := store.Open(cmd.Context(), store.Config{DataDir: cfg.DataDir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
			}
			defer st.Close()
			plain, _, err := st.CreateToken(cmd.Context(), name)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.io.out, plain)
			return err
		},
	}
	create.Flags().StringVar(&dataDir, "data-dir", "", "the server's data directory (env APPRUN_DATA_DIR)")
	create.Flags().StringVar(&configPath, "config", "", "server config file (env APPRUN_CONFIG)")
	create.Flags().StringVar(&name, "name", "admin", "a name to recognise the token by")
	token.AddCommand(create)
	cmd.AddCommand(token)
	return cmd
}
