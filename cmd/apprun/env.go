package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func newEnvCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Show and change a service's environment variables",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list SERVICE",
			Short: "Show a service's environment variables",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				raw, err := g.call(cmd, "GET", "/api/v1/services/"+pathEscape(args[0])+"/env", nil)
				if raw == nil {
					return err
				}
				var env map[string]string
				if err := decode(raw, &env); err != nil {
					return err
				}
				return printKV(g, env)
			},
		},
		&cobra.Command{
			Use:     "set SERVICE NAME=VALUE...",
			Short:   "Set environment variables (others keep their values)",
			Example: "  apprun env set web LOG_LEVEL=debug FEATURE_X=on",
			Args:    cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				pairs, err := parsePairs("NAME=VALUE", args[1:])
				if err != nil {
					return err
				}
				return g.putPairs(cmd, args[0], "env", pairs)
			},
		},
		&cobra.Command{
			Use:   "unset SERVICE NAME...",
			Short: "Remove environment variables",
			Args:  cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.deleteKeys(cmd, args[0], "env", args[1:])
			},
		},
	)
	return cmd
}

func newSecretsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Set and remove a service's secrets (values are write-only)",
		Long: `Secrets are injected into instances as environment variables like env, but
their values are encrypted at rest and never shown by the API, the CLI or logs.`,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list SERVICE",
			Short: "List the names of a service's secrets",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				raw, err := g.call(cmd, "GET", "/api/v1/services/"+pathEscape(args[0])+"/secrets", nil)
				if raw == nil {
					return err
				}
				var resp struct {
					Names []string `json:"names"`
				}
				if err := decode(raw, &resp); err != nil {
					return err
				}
				if len(resp.Names) == 0 {
					fmt.Fprintf(g.io.out, "%s has no secrets\n", args[0])
					return nil
				}
				fmt.Fprintln(g.io.out, strings.Join(resp.Names, "\n"))
				return nil
			},
		},
		&cobra.Command{
			Use:   "set SERVICE NAME=VALUE...",
			Short: "Set secrets (others keep their values)",
			Long: `Set secrets. A VALUE of "-" reads the value from standard input, so it stays
out of the shell history and the process list.`,
			Example: "  apprun secrets set web DB_PASSWORD=- < password.txt",
			Args:    cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				pairs, err := parsePairs("NAME=VALUE", args[1:])
				if err != nil {
					return err
				}
				for k, v := range pairs {
					if v == "-" {
						data, err := g.readStdin()
						if err != nil {
							return fmt.Errorf("reading %s from stdin: %w", k, err)
						}
						pairs[k] = strings.TrimRight(string(data), "\r\n")
					}
				}
				return g.putPairs(cmd, args[0], "secrets", pairs)
			},
		},
		&cobra.Command{
			Use:   "unset SERVICE NAME...",
			Short: "Remove secrets",
			Args:  cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.deleteKeys(cmd, args[0], "secrets", args[1:])
			},
		},
	)
	return cmd
}

// putPairs merges pairs into a service's env or secrets. The values are
// never echoed back: only the names.
func (g *globals) putPairs(cmd *cobra.Command, service, what string, pairs map[string]string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	if err := c.do(cmd.Context(), "PUT", "/api/v1/services/"+pathEscape(service)+"/"+what, pairs, nil); err != nil {
		return err
	}
	names := make([]string, 0, len(pairs))
	for k := range pairs {
		names = append(names, k)
	}
	slices.Sort(names)
	if g.json {
		return g.printJSON(map[string]any{"service": service, "set": names})
	}
	fmt.Fprintf(g.io.out, "Set %s on %s: %s\n", what, service, strings.Join(names, ", "))
	return nil
}

func (g *globals) deleteKeys(cmd *cobra.Command, service, what string, keys []string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.do(cmd.Context(), "DELETE", "/api/v1/services/"+pathEscape(service)+"/"+what+"/"+pathEscape(k), nil, nil); err != nil {
			return fmt.Errorf("unsetting %s: %w", k, err)
		}
	}
	if g.json {
		return g.printJSON(map[string]any{"service": service, "unset": keys})
	}
	fmt.Fprintf(g.io.out, "Unset %s on %s: %s\n", what, service, strings.Join(keys, ", "))
	return nil
}

func printKV(g *globals, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(g.io.out, "%s=%s\n", k, m[k])
	}
	return nil
}
