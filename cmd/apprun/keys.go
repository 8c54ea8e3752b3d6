package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "SSH public keys allowed to git push over SSH",
	}
	var name string
	add := &cobra.Command{
		Use:   "add [--name N] FILE|-",
		Short: "Allow an SSH public key (a .pub file, or - for stdin) to git push",
		Example: `  apprun keys add ~/.ssh/id_ed25519.pub
  apprun keys add --name ci - < deploy_key.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			if args[0] == "-" {
				data, err = io.ReadAll(io.LimitReader(g.io.in, 64<<10))
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("reading the public key: %w", err)
			}
			if strings.Contains(string(data), "PRIVATE KEY") {
				return usageErrorf("%s is a private key: give the .pub file", args[0])
			}
			raw, err := g.call(cmd, "POST", "/api/v1/keys", map[string]any{"name": name, "publicKey": strings.TrimSpace(string(data))})
			if raw == nil {
				return err
			}
			var k spec.SSHKey
			if err := decode(raw, &k); err != nil {
				return err
			}
			fmt.Fprintf(g.io.out, "Added key %s (%s) %s\n", k.Name, k.ID, k.Fingerprint)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "whose key it is (default: the key's comment)")
	cmd.AddCommand(add,
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List the SSH keys allowed to push",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				raw, err := g.call(cmd, "GET", "/api/v1/keys", nil)
				if raw == nil {
					return err
				}
				var resp struct {
					Keys []spec.SSHKey `json:"keys"`
				}
				if err := decode(raw, &resp); err != nil {
					return err
				}
				now := time.Now()
				t := newTable(g.io.out, "ID", "NAME", "FINGERPRINT", "ADDED")
				for _, k := range resp.Keys {
					t.row(k.ID, k.Name, k.Fingerprint, ago(k.CreatedAt, now))
				}
				return t.flush()
			},
		},
		&cobra.Command{
			Use:     "remove ID",
			Aliases: []string{"rm", "delete"},
			Short:   "Remove an SSH key",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				if err := c.do(cmd.Context(), "DELETE", "/api/v1/keys/"+pathEscape(args[0]), nil, nil); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"deleted": args[0]})
				}
				fmt.Fprintf(g.io.out, "Removed key %s\n", args[0])
				return nil
			},
		},
	)
	return cmd
}
