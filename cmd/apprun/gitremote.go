package main

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"

	"github.com/spf13/cobra"
)

func newGitRemoteCmd(g *globals) *cobra.Command {
	var add bool
	var remoteName string
	cmd := &cobra.Command{
		Use:   "git-remote SERVICE",
		Short: "Print the git push URLs of a service (smart HTTP and SSH)",
		Long: `Print the URLs that git push deploys SERVICE from: smart HTTP on the API
address (the password is an API token, any user name) and SSH (with a key
added by "apprun keys add"). A push to the service's deploy branch (main
unless its source says otherwise) builds and rolls out exactly the pushed
commit; git push fails when the deployment does.

With --add, the HTTP URL is also added as a remote of the git repository
in the current directory.`,
		Example: `  apprun git-remote hello
  git remote add apprun http://127.0.0.1:8700/git/hello.git
  git push apprun main`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := g.client()
			if err != nil {
				return err
			}
			// The service must exist; the answer also checks the token.
			if err := c.do(cmd.Context(), "GET", "/api/v1/services/"+pathEscape(name), nil, nil); err != nil {
				return err
			}
			var info struct {
				SSHAddr string `json:"sshAddr"`
			}
			if err := c.do(cmd.Context(), "GET", "/git/", nil, &info); err != nil {
				return fmt.Errorf("asking the server for its git settings: %w", err)
			}
			httpURL := c.base.String() + "/git/" + name + ".git"
			sshURL := ""
			if info.SSHAddr != "" {
				host, port, _ := net.SplitHostPort(info.SSHAddr)
				if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
					// Listening on every address: the API's host reaches it.
					host = c.base.Hostname()
				}
				sshURL = (&url.URL{Scheme: "ssh", User: url.User("git"), Host: net.JoinHostPort(host, port), Path: "/" + name + ".git"}).String()
			}
			if g.json {
				return g.printJSON(map[string]string{"service": name, "http": httpURL, "ssh": sshURL})
			}
			fmt.Fprintf(g.io.out, "HTTP:  %s   (password: an API token)\n", httpURL)
			if sshURL != "" {
				fmt.Fprintf(g.io.out, "SSH:   %s   (key: apprun keys add ~/.ssh/id_ed25519.pub)\n", sshURL)
			} else {
				fmt.Fprintln(g.io.out, "SSH:   off on this server")
			}
			if add {
				out, err := gitRemoteAdd(cmd, remoteName, httpURL)
				if err != nil {
					return fmt.Errorf("git remote add: %w: %s", err, out)
				}
				fmt.Fprintf(g.io.out, "Added git remote %s; deploy with: git push %s main\n", remoteName, remoteName)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&add, "add", false, "also add the HTTP URL as a remote of the repository here")
	cmd.Flags().StringVar(&remoteName, "remote", "apprun", "the remote's name, with --add")
	return cmd
}

// gitRemoteAdd runs `git remote add NAME URL` in the current directory,
// argv only.
func gitRemoteAdd(cmd *cobra.Command, name, u string) ([]byte, error) {
	return exec.CommandContext(cmd.Context(), "git", "remote", "add", "--", name, u).CombinedOutput()
}
