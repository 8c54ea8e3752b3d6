package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

func newDeploymentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployments SERVICE",
		Aliases: []string{"deploys", "releases"},
		Short:   "List a service's deployments, newest first",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := g.call(cmd, "GET", "/api/v1/services/"+pathEscape(args[0])+"/deployments", nil)
			if raw == nil {
				return err
			}
			var resp struct {
				Deployments []spec.Deployment `json:"deployments"`
			}
			if err := decode(raw, &resp); err != nil {
				return err
			}
			if len(resp.Deployments) == 0 {
				fmt.Fprintf(g.io.out, "%s has no deployments yet\n", args[0])
				return nil
			}
			now := time.Now()
			t := newTable(g.io.out, "#", "ID", "STATE", "SOURCE", "REVISION", "CREATED", "REASON")
			for _, d := range resp.Deployments {
				src := d.Source.Kind
				if d.Source.Commit != "" {
					src += " " + shortCommit(d.Source.Commit)
				}
				t.row(strconv.Itoa(d.Number), d.ID, string(d.State), orDash(src), orDash(d.RevisionID), ago(d.CreatedAt, now), d.Reason)
			}
			return t.flush()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "get SERVICE ID",
		Short: "Show one deployment",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := c.do(cmd.Context(), "GET", "/api/v1/services/"+pathEscape(args[0])+"/deployments/"+pathEscape(args[1]), nil, &raw); err != nil {
				return err
			}
			return g.printRaw(raw)
		},
	})
	return cmd
}

func shortCommit(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}
