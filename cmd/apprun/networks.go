package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

func newNetworksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "networks",
		Aliases: []string{"network", "net"},
		Short:   "Private networks that services join to reach databases and caches",
	}
	var internal bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a private network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := g.call(cmd, "POST", "/api/v1/networks", map[string]any{"name": args[0], "internal": internal})
			if raw == nil {
				return err
			}
			fmt.Fprintf(g.io.out, "Created network %s\n", args[0])
			return nil
		},
	}
	create.Flags().BoolVar(&internal, "internal", false, "no route to the outside world")
	cmd.AddCommand(create,
		&cobra.Command{
			Use:     "list",
			Aliases: []string{"ls"},
			Short:   "List private networks",
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				raw, err := g.call(cmd, "GET", "/api/v1/networks", nil)
				if raw == nil {
					return err
				}
				var resp struct {
					Networks []spec.Network `json:"networks"`
				}
				if err := decode(raw, &resp); err != nil {
					return err
				}
				now := time.Now()
				t := newTable(g.io.out, "NAME", "INTERNAL", "CREATED")
				for _, n := range resp.Networks {
					t.row(n.Name, strconv.FormatBool(n.Internal), ago(n.CreatedAt, now))
				}
				return t.flush()
			},
		},
		&cobra.Command{
			Use:     "delete NAME",
			Aliases: []string{"rm"},
			Short:   "Delete a private network no service uses",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				if err := c.do(cmd.Context(), "DELETE", "/api/v1/networks/"+pathEscape(args[0]), nil, nil); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"deleted": args[0]})
				}
				fmt.Fprintf(g.io.out, "Deleted network %s\n", args[0])
				return nil
			},
		},
	)
	return cmd
}
