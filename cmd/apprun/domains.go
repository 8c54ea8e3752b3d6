package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

// domainView is a custom domain as the API answers it.
type domainView struct {
	spec.Domain
	Instructions *struct {
		TXTName  string `json:"txtName"`
		TXTValue string `json:"txtValue"`
		HTTPURL  string `json:"httpURL"`
	} `json:"instructions"`
	Issuer   string     `json:"issuer"`
	NotAfter *time.Time `json:"notAfter"`
	DaysLeft *float64   `json:"daysLeft"`
	Warning  string     `json:"warning"`
}

func domainPath(service, name string) string {
	return "/api/v1/services/" + pathEscape(service) + "/domains/" + pathEscape(name)
}

func newDomainsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "domains",
		Aliases: []string{"domain"},
		Short:   "Custom domains: attach, prove ownership, list with their certificates",
		Long: `A custom domain answers for a service once you prove you control it:
"apprun domains add" prints a TXT record to create (or, once the name's DNS
points at this server, apprun answers the HTTP check itself), and "apprun
domains verify" checks it. Only verified domains are routed and get a
certificate.`,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "add SERVICE NAME",
			Short: "Attach a custom domain to a service and show how to prove ownership",
			Args:  exactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				raw, err := g.call(cmd, "POST", "/api/v1/services/"+pathEscape(args[0])+"/domains", map[string]string{"name": args[1]})
				if raw == nil {
					return err
				}
				var d domainView
				if err := decode(raw, &d); err != nil {
					return err
				}
				fmt.Fprintf(g.io.out, "Added %s to %s (pending until verified)\n", d.Name, d.Service)
				printInstructions(g.io.out, d)
				return nil
			},
		},
		&cobra.Command{
			Use:   "verify SERVICE NAME",
			Short: "Check ownership of a custom domain (TXT record or HTTP token)",
			Args:  exactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				raw, err := g.call(cmd, "POST", domainPath(args[0], args[1])+"/verify", nil)
				if raw == nil {
					return err
				}
				var d domainView
				if err := decode(raw, &d); err != nil {
					return err
				}
				fmt.Fprintf(g.io.out, "Verified %s for %s\n", d.Name, d.Service)
				return nil
			},
		},
		&cobra.Command{
			Use:     "list [SERVICE]",
			Aliases: []string{"ls"},
			Short:   "List custom domains with their status and certificate",
			Args:    cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				path := "/api/v1/domains"
				if len(args) == 1 {
					path = "/api/v1/services/" + pathEscape(args[0]) + "/domains"
				}
				raw, err := g.call(cmd, "GET", path, nil)
				if raw == nil {
					return err
				}
				var resp struct {
					Domains []domainView `json:"domains"`
				}
				if err := decode(raw, &resp); err != nil {
					return err
				}
				if len(resp.Domains) == 0 {
					if len(args) == 1 {
						fmt.Fprintf(g.io.out, "%s has no custom domains\n", args[0])
					} else {
						fmt.Fprintln(g.io.out, "No custom domains yet")
					}
					return nil
				}
				t := newTable(g.io.out, "NAME", "SERVICE", "STATUS", "ISSUER", "EXPIRES", "WARNING")
				for _, d := range resp.Domains {
					t.row(d.Name, d.Service, d.Status, orDash(d.Issuer), expires(d), orDash(d.Warning))
				}
				return t.flush()
			},
		},
		&cobra.Command{
			Use:     "remove SERVICE NAME",
			Aliases: []string{"rm"},
			Short:   "Detach a custom domain from a service",
			Args:    exactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.client()
				if err != nil {
					return err
				}
				if err := c.do(cmd.Context(), "DELETE", domainPath(args[0], args[1]), nil, nil); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"removed": args[1], "service": args[0]})
				}
				fmt.Fprintf(g.io.out, "Removed %s from %s\n", args[1], args[0])
				return nil
			},
		},
	)
	return cmd
}

// printInstructions tells how to prove ownership of a pending domain.
func printInstructions(w io.Writer, d domainView) {
	in := d.Instructions
	if in == nil {
		return
	}
	fmt.Fprintf(w, `Prove you control it, either way:
  DNS:   create a TXT record
           %s  TXT  %q
  HTTP:  point %s at this server (apprun answers the check itself), or serve
           %s
         with the token as its body
Then run: apprun domains verify %s %s
`, in.TXTName, in.TXTValue, d.Name, in.HTTPURL, d.Service, d.Name)
}

// expires renders a certificate's remaining life for the table.
func expires(d domainView) string {
	if d.DaysLeft == nil {
		return "-"
	}
	if *d.DaysLeft < 0 {
		return "expired"
	}
	return fmt.Sprintf("%dd", int(math.Floor(*d.DaysLeft)))
}

// exactArgs is cobra.ExactArgs(n) with a usage error (exit 2) that shows
// the usage line, which names the arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("usage: %s (got %s)", cmd.UseLine(), plural(len(args), "argument"))
		}
		return nil
	}
}
