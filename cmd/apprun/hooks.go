package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// hookProviders are the providers `apprun hooks setup` prints, in order,
// with where to paste the URL and the secret.
var hookProviders = []struct{ key, name, how string }{
	{"github", "GitHub", "Settings → Webhooks → Add webhook: Payload URL, content type application/json, Secret; just the push event"},
	{"gitlab", "GitLab", "Settings → Webhooks → Add new webhook: URL, Secret token; trigger: Push events"},
	{"gitea", "Gitea", "Settings → Webhooks → Add webhook → Gitea: Target URL, POST, application/json, Secret; push events"},
}

func newHooksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hooks",
		Aliases: []string{"webhooks"},
		Short:   "Git webhooks from GitHub, GitLab and Gitea that deploy each push",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "setup SERVICE",
		Short: "Make a new webhook secret for a service and print the webhook URLs",
		Long: `Make a new webhook secret for SERVICE (replacing any old one) and print it,
once, with the webhook URL for GitHub, GitLab and Gitea. A push to the
service's deploy branch (source.branch) then deploys the pushed commit,
fetched from source.repo; a private repository needs the service secret
GIT_TOKEN (apprun secrets set SERVICE GIT_TOKEN=...); apprun uses it to
fetch and never passes it to the app's instances.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := g.call(cmd, "POST", "/api/v1/services/"+pathEscape(args[0])+"/webhook-secret", nil)
			if raw == nil {
				return err
			}
			var resp struct {
				Secret string            `json:"secret"`
				URLs   map[string]string `json:"urls"`
			}
			if err := decode(raw, &resp); err != nil {
				return err
			}
			out := g.io.out
			fmt.Fprintf(out, "-----> Webhook secret for %s (shown once; keep it safe):\n\n    %s\n\n", args[0], resp.Secret)
			for _, p := range hookProviders {
				fmt.Fprintf(out, "%-7s %s\n        %s\n", p.name+":", resp.URLs[p.key], p.how)
			}
			fmt.Fprintf(out, "\nThe URLs name the server as this CLI reaches it; the provider must reach it too.\n")
			fmt.Fprintf(out, "Run this again to replace the secret; deliveries signed with the old one are refused.\n")
			return nil
		},
	})
	return cmd
}
