package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

func newDeployCmd(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "deploy [DIR]",
		Short: "Deploy a local directory: upload it, build it, roll it out and print its URL",
		Long: `Upload DIR (default ".") to the server, build it (buildpacks, or its
Dockerfile), and roll the new revision out: new instances start and pass
their health check before they receive traffic, then the old ones drain.
If the rollout fails, the previous revision keeps serving.

The service is --service (which also links DIR to it for later commands),
else the service DIR is linked to, else DIR's name. It is created with the
default settings if it does not exist. .git is not uploaded.

The log streams as it happens; with --json it goes to stderr and only the
final deployment object is printed.`,
		Example: `  apprun deploy
  apprun deploy ./shop --service shop-staging
  apprun deploy --json | jq -r .revisionId`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			dir, err := sourceDir(args)
			if err != nil {
				return err
			}
			name, err := g.serviceFor(service, dir)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, out := cmd.Context(), g.progress()
			if err := g.ensureService(ctx, c, name, out); err != nil {
				return err
			}
			if service != "" {
				changed, err := g.link(dir, name)
				if err != nil {
					return err
				}
				if changed {
					fmt.Fprintf(out, "-----> Linked %s to service %s\n", dir, name)
				}
			}
			archive, err := packDir(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "-----> Uploading source (%s)\n", byteSize(len(archive)))
			body, err := c.stream(ctx, "POST", "/api/v1/services/"+pathEscape(name)+"/deployments", "application/gzip", archive)
			if err != nil {
				return err
			}
			return g.followDeployment(ctx, c, name, body, start, "Deployed")
		},
	}
	addServiceFlag(cmd, &service)
	return cmd
}

func newRollbackCmd(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Roll a service back to an earlier revision, without building",
		Long: `Roll out REVISION again (see "apprun deployments SERVICE" for the revision
of each deployment), or by default the revision before the one serving now.
The rollout is a deployment like any other: it streams its log, gates on
health, and leaves the current revision serving if it fails.`,
		Example: `  apprun rollback
  apprun rollback rev_k5xq2m7c4hzp3r6wyt2a --service shop`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			name, err := g.serviceFor(service, ".")
			if err != nil {
				return err
			}
			revision := ""
			if len(args) == 1 {
				revision = args[0]
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			data, err := json.Marshal(map[string]string{"revision": revision})
			if err != nil {
				return err
			}
			target := "the previous revision"
			if revision != "" {
				target = "revision " + revision
			}
			fmt.Fprintf(g.progress(), "-----> Rolling %s back to %s\n", name, target)
			ctx := cmd.Context()
			body, err := c.stream(ctx, "POST", "/api/v1/services/"+pathEscape(name)+"/rollback", "application/json", data)
			if err != nil {
				return err
			}
			return g.followDeployment(ctx, c, name, body, start, "Rolled back")
		},
	}
	addServiceFlag(cmd, &service)
	return cmd
}

// progress is where step lines and logs go: stdout, unless --json keeps
// stdout for the one JSON answer.
func (g *globals) progress() io.Writer {
	if g.json {
		return g.io.err
	}
	return g.io.out
}

// ensureService creates the service with the default settings when it does
// not exist yet, so a first `apprun deploy` is the only command needed.
func (g *globals) ensureService(ctx context.Context, c *client, name string, out io.Writer) error {
	err := c.do(ctx, "GET", "/api/v1/services/"+pathEscape(name), nil, nil)
	var ae *apiError
	if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return err
	}
	fmt.Fprintf(out, "-----> Creating service %s\n", name)
	err = c.do(ctx, "POST", "/api/v1/services", map[string]string{"name": name}, nil)
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return nil // created by someone else meanwhile: deploy to it
	}
	if err != nil {
		return fmt.Errorf("creating service %s: %w", name, err)
	}
	return nil
}

// followDeployment reads a deployment's NDJSON stream: log lines as they
// come, then the outcome. On success it prints the service's URL and the
// total time; on failure it returns the error with the deployment's reason.
func (g *globals) followDeployment(ctx context.Context, c *client, name string, body io.ReadCloser, start time.Time, verb string) error {
	defer body.Close()
	out := g.progress()
	var last struct {
		Deployment json.RawMessage `json:"deployment"`
		Error      *apiError       `json:"error"`
	}
	ended := false
	err := readNDJSON(body, "deployment", func(line []byte) (bool, error) {
		var ev struct {
			Log *string `json:"log"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return true, fmt.Errorf("the server's deployment stream is not NDJSON: %w", err)
		}
		if ev.Log != nil {
			fmt.Fprintln(out, *ev.Log)
			return false, nil
		}
		ended = true
		return true, json.Unmarshal(line, &last)
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: the server cancels a deployment whose client goes away; see `apprun deployments %s`: %w", name, ctx.Err())
		}
		return err
	}
	if !ended {
		return fmt.Errorf("the deployment stream ended without an outcome (did the server stop?); see `apprun deployments %s`", name)
	}
	var d *spec.Deployment
	if last.Deployment != nil {
		d = &spec.Deployment{}
		if err := decode(last.Deployment, d); err != nil {
			return err
		}
		if g.json {
			if err := g.printRaw(last.Deployment); err != nil {
				return err
			}
		}
	}
	if last.Error != nil {
		last.Error.Status = streamErrorStatus(last.Error.Code)
		return &deployFailure{service: name, err: last.Error, d: d}
	}
	if d == nil {
		return fmt.Errorf("the deployment stream ended without the deployment; see `apprun deployments %s`", name)
	}
	if g.json {
		return nil
	}
	fmt.Fprintf(out, "-----> %s %s: deployment #%d, revision %s\n", verb, name, d.Number, orDash(d.RevisionID))
	var svc serviceView
	if err := c.do(ctx, "GET", "/api/v1/services/"+pathEscape(name), nil, &svc); err != nil {
		return fmt.Errorf("the deployment succeeded, but reading the service's URL failed: %w", err)
	}
	if svc.URL != "" {
		fmt.Fprintf(out, "       %s\n", svc.URL)
	}
	fmt.Fprintf(out, "-----> Done in %s\n", elapsed(start))
	return nil
}

// streamErrorStatus gives an error that ended a stream (sent after the 200)
// the status it would have had as a response, so that exit codes mean the
// same for both.
func streamErrorStatus(code string) int {
	switch code {
	case "invalid":
		return http.StatusUnprocessableEntity
	case "too_large":
		return http.StatusRequestEntityTooLarge
	case "not_found":
		return http.StatusNotFound
	case "conflict":
		return http.StatusConflict
	case "bad_request":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// deployFailure is a deployment that ended failed: the server's error and,
// when one was recorded, the deployment, whose reason is the short answer
// to "why".
type deployFailure struct {
	service string
	err     *apiError
	d       *spec.Deployment
}

func (e *deployFailure) Error() string {
	msg := e.err.Error()
	if e.d == nil {
		return fmt.Sprintf("deploying %s failed: %s", e.service, msg)
	}
	head := fmt.Sprintf("deployment #%d of %s failed", e.d.Number, e.service)
	switch {
	case e.d.Reason == "" || strings.Contains(msg, e.d.Reason):
		return head + ": " + msg
	case strings.Contains(e.d.Reason, msg):
		return head + ": " + e.d.Reason
	}
	return head + ": " + e.d.Reason + "\n  " + msg
}

// Unwrap lets exitCode find the API error's status.
func (e *deployFailure) Unwrap() error { return e.err }
