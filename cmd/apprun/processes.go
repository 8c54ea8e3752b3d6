package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

// scale, logs and ps act on a service's running instances.

func newScaleCmd(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "scale TYPE=N...",
		Short: "Set how many instances run per process type",
		Long: `Set the number of instances of each process type named (the Procfile's
types; "web" serves requests). Types not named keep their count; 0 stops a
type. The server converges at once.`,
		Example: `  apprun scale web=3 worker=1
  apprun scale worker=0 --service shop`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			formation, err := parseFormation(args)
			if err != nil {
				return err
			}
			name, err := g.serviceFor(service, ".")
			if err != nil {
				return err
			}
			raw, err := g.call(cmd, "PUT", "/api/v1/services/"+pathEscape(name)+"/formation", formation)
			if raw == nil {
				return err
			}
			var svc serviceView
			if err := decode(raw, &svc); err != nil {
				return err
			}
			fmt.Fprintf(g.io.out, "Scaled %s: %s\n", name, formatFormation(formation))
			fmt.Fprintf(g.io.out, "Formation: %s\n", formatFormation(svc.Formation))
			return nil
		},
	}
	addServiceFlag(cmd, &service)
	return cmd
}

// parseFormation reads TYPE=N arguments, with the server's own rules, so a
// typo is a usage error before anything is sent.
func parseFormation(args []string) (map[string]int, error) {
	if len(args) == 0 {
		return nil, usageErrorf("give at least one TYPE=N, e.g. apprun scale web=2")
	}
	out := make(map[string]int, len(args))
	for _, a := range args {
		typ, count, ok := strings.Cut(a, "=")
		if !ok {
			return nil, usageErrorf("%q: want TYPE=N, e.g. web=2", a)
		}
		if err := spec.ValidateProcessType(typ); err != nil {
			return nil, usageErrorf("%q: %v", a, err)
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > spec.MaxInstancesLimit {
			return nil, usageErrorf("%q: the count must be a whole number from 0 to %d", a, spec.MaxInstancesLimit)
		}
		if _, dup := out[typ]; dup {
			return nil, usageErrorf("%q: process type %s is given twice", a, typ)
		}
		out[typ] = n
	}
	return out, nil
}

// formatFormation renders a formation sorted by type ("web=3, worker=1").
func formatFormation(f map[string]int) string {
	if len(f) == 0 {
		return "default (one instance of each process type)"
	}
	parts := make([]string, 0, len(f))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, f[k]))
	}
	return strings.Join(parts, ", ")
}

func newLogsCmd(g *globals) *cobra.Command {
	var follow bool
	var since, process, revision string
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [SERVICE]",
		Short: "Show a service's instance output (-f to follow)",
		Long: `Print what the service's instances write to stdout and stderr, oldest
first, as "TIME PROCESS/INSTANCE | line" (time in UTC). SERVICE defaults to
the one this directory is linked to, else the directory's name. With --json
each line is printed as the server sends it: one JSON object per line.`,
		Example: `  apprun logs -f
  apprun logs shop --since 1h --process worker
  apprun logs shop --tail 0 --json | jq -r .line`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := g.serviceFor(firstArg(args), ".")
			if err != nil {
				return err
			}
			q := url.Values{}
			if follow {
				q.Set("follow", "true")
			}
			if since != "" {
				q.Set("since", since)
			}
			q.Set("tail", strconv.Itoa(tail))
			if process != "" {
				q.Set("process", process)
			}
			if revision != "" {
				q.Set("revision", revision)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			body, err := c.stream(ctx, "GET", "/api/v1/services/"+pathEscape(name)+"/logs?"+q.Encode(), "", nil)
			if err != nil {
				return err
			}
			defer body.Close()
			err = readNDJSON(body, "logs", func(line []byte) (bool, error) {
				return false, g.printLogLine(line)
			})
			if ctx.Err() != nil {
				return nil // interrupted while following: the normal way out
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	fl.StringVar(&since, "since", "", "only lines from this long ago (10m, 2h) or since an RFC 3339 time")
	fl.IntVarP(&tail, "tail", "n", 100, "only the last N lines of history (0 for all)")
	fl.StringVarP(&process, "process", "p", "", "only this process type (web, worker, ...)")
	fl.StringVar(&revision, "revision", "", "only this revision's instances")
	return cmd
}

// logEvent is one line of the logs stream: a log line or, last, an error.
type logEvent struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Process  string    `json:"process"`
	Line     string    `json:"line"`
	Error    *apiError `json:"error"`
}

// printLogLine prints one line of the logs stream; an error line ends the
// command with that error.
func (g *globals) printLogLine(line []byte) error {
	var ev logEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return fmt.Errorf("the server's logs stream is not NDJSON: %w", err)
	}
	if g.json {
		if _, err := fmt.Fprintf(g.io.out, "%s\n", line); err != nil {
			return err
		}
	}
	if ev.Error != nil {
		ev.Error.Status = streamErrorStatus(ev.Error.Code)
		return fmt.Errorf("reading logs: %w", ev.Error)
	}
	if g.json {
		return nil
	}
	_, err := fmt.Fprintf(g.io.out, "%s %s/%s | %s\n", logTime(ev.Time), orDash(ev.Process), shortID(ev.Instance), ev.Line)
	return err
}

// logTime is RFC 3339 in UTC with milliseconds, fixed width, so that lines
// from several instances align and sort.
func logTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// shortID shortens an instance ID for display: without its "xxx_" prefix,
// 10 characters at most (unique enough among one service's instances).
func shortID(id string) string {
	if _, rest, ok := strings.Cut(id, "_"); ok {
		id = rest
	}
	if len(id) > 10 {
		id = id[:10]
	}
	return orDash(id)
}

func firstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// instanceView is an instance as GET .../instances returns it.
type instanceView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Process    string    `json:"process"`
	RevisionID string    `json:"revisionId"`
	State      string    `json:"state"`
	Address    string    `json:"address"`
	Ready      bool      `json:"ready"`
	StartedAt  time.Time `json:"startedAt"`
	Restarts   int       `json:"restarts"`
}

func newPsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "ps [SERVICE]",
		Aliases: []string{"instances"},
		Short:   "List a service's instances",
		Long: `List the service's instances: process type, instance, revision, state,
whether it passes its health check (READY), its address and start time.
SERVICE defaults to the one this directory is linked to, else the
directory's name.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := g.serviceFor(firstArg(args), ".")
			if err != nil {
				return err
			}
			raw, err := g.call(cmd, "GET", "/api/v1/services/"+pathEscape(name)+"/instances", nil)
			if raw == nil {
				return err
			}
			var resp struct {
				Instances []instanceView `json:"instances"`
			}
			if err := decode(raw, &resp); err != nil {
				return err
			}
			if len(resp.Instances) == 0 {
				fmt.Fprintf(g.io.out, "%s has no instances (deploy it with: apprun deploy)\n", name)
				return nil
			}
			slices.SortFunc(resp.Instances, func(a, b instanceView) int {
				return cmp.Or(cmp.Compare(a.Process, b.Process), a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
			})
			now := time.Now()
			t := newTable(g.io.out, "PROCESS", "INSTANCE", "REVISION", "STATE", "READY", "ADDRESS", "STARTED")
			for _, in := range resp.Instances {
				ready := "no"
				if in.Ready {
					ready = "yes"
				}
				state := orDash(in.State)
				if in.Restarts > 0 {
					state += fmt.Sprintf(" (%d restarts)", in.Restarts)
				}
				t.row(orDash(in.Process), shortID(in.ID), orDash(in.RevisionID), state, ready, orDash(in.Address), ago(in.StartedAt, now))
			}
			return t.flush()
		},
	}
}
