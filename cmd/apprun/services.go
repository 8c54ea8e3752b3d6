package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/spec"
)

// serviceView is a service as the API returns it.
type serviceView struct {
	spec.Service
	URL string `json:"url,omitempty"`
}

func newServicesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "services",
		Aliases: []string{"service", "svc", "apps"},
		Short:   "Create, list, show, change and delete services",
	}
	cmd.AddCommand(newServicesCreateCmd(g), newServicesListCmd(g), newServicesGetCmd(g),
		newServicesUpdateCmd(g), newServicesDeleteCmd(g))
	return cmd
}

// serviceFlags are the settings a service takes on the command line; only
// the flags a user set are sent, so the server's defaults (and, on update,
// the current values) hold for the rest.
type serviceFlags struct {
	file                                   string
	port                                   int
	env, secrets, networks, domains        []string
	concurrency, minInst, maxInst          int
	cpu                                    float64
	memory                                 int
	hcProtocol, hcPath                     string
	hcInterval, hcTimeout, hcHealthy, hcUn int
	repo, branch                           string
	autoDeploy                             bool
}

func (f *serviceFlags) register(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read the service as JSON from a file (- for stdin); flags override it")
	fl.IntVar(&f.port, "port", 0, "port the app listens on in its container (default: apprun.yaml's, else 8080)")
	if create {
		fl.StringArrayVarP(&f.env, "env", "e", nil, "environment variable NAME=VALUE (repeatable)")
		fl.StringArrayVar(&f.secrets, "secret", nil, "secret NAME=VALUE, stored encrypted and never shown again (repeatable)")
	}
	fl.IntVar(&f.concurrency, "concurrency", 0, "most concurrent requests per instance (default 100)")
	fl.IntVar(&f.minInst, "min", 0, "minimum instances; 0 scales to zero when idle (default 1)")
	fl.IntVar(&f.maxInst, "max", 0, "maximum instances (default 25)")
	fl.Float64Var(&f.cpu, "cpu", 0, "vCPUs per instance (default 1)")
	fl.IntVar(&f.memory, "memory", 0, "memory per instance in MiB (default 2048)")
	fl.StringVar(&f.hcProtocol, "health-protocol", "", "health check protocol: TCP or HTTP (default TCP)")
	fl.StringVar(&f.hcPath, "health-path", "", "HTTP health check path (default /)")
	fl.IntVar(&f.hcInterval, "health-interval", 0, "seconds between health checks, 1-20 (default 5)")
	fl.IntVar(&f.hcTimeout, "health-timeout", 0, "health check timeout in seconds, 1-20 (default 2)")
	fl.IntVar(&f.hcHealthy, "healthy-threshold", 0, "successes to become healthy, 1-20 (default 1)")
	fl.IntVar(&f.hcUn, "unhealthy-threshold", 0, "failures to become unhealthy, 1-20 (default 5)")
	fl.StringArrayVar(&f.networks, "network", nil, "private network to join (repeatable; on update, replaces the list)")
	fl.StringArrayVar(&f.domains, "domain", nil, "custom domain (repeatable; on update, replaces the list)")
	fl.StringVar(&f.repo, "repo", "", "git repository URL to deploy from")
	fl.StringVar(&f.branch, "branch", "", "deploy branch (default main)")
	fl.BoolVar(&f.autoDeploy, "auto-deploy", true, "deploy every push to the deploy branch")
}

// body builds the JSON request from the file (if any) and the flags set.
func (f *serviceFlags) body(cmd *cobra.Command, in func() ([]byte, error)) (map[string]any, error) {
	body := map[string]any{}
	if f.file != "" {
		var data []byte
		var err error
		if f.file == "-" {
			data, err = in()
		} else {
			data, err = os.ReadFile(f.file)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.file, err)
		}
		if err := json.Unmarshal(data, &body); err != nil {
			return nil, usageErrorf("%s is not a JSON object: %v", f.file, err)
		}
	}
	changed := cmd.Flags().Changed
	sub := func(key string) map[string]any {
		m, ok := body[key].(map[string]any)
		if !ok {
			m = map[string]any{}
			body[key] = m
		}
		return m
	}
	if changed("port") {
		body["port"] = f.port
	}
	if changed("env") {
		m, err := parsePairs("--env", f.env)
		if err != nil {
			return nil, err
		}
		body["env"] = m
	}
	if changed("secret") {
		m, err := parsePairs("--secret", f.secrets)
		if err != nil {
			return nil, err
		}
		body["secrets"] = m
	}
	for _, it := range []struct {
		flag, obj, key string
		val            any
	}{
		{"concurrency", "scaling", "maxConcurrency", f.concurrency},
		{"min", "scaling", "minInstances", f.minInst},
		{"max", "scaling", "maxInstances", f.maxInst},
		{"cpu", "instanceSize", "cpu", f.cpu},
		{"memory", "instanceSize", "memoryMB", f.memory},
		{"health-protocol", "healthCheck", "protocol", strings.ToUpper(f.hcProtocol)},
		{"health-path", "healthCheck", "path", f.hcPath},
		{"health-interval", "healthCheck", "interval", f.hcInterval},
		{"health-timeout", "healthCheck", "timeout", f.hcTimeout},
		{"healthy-threshold", "healthCheck", "healthyThreshold", f.hcHealthy},
		{"unhealthy-threshold", "healthCheck", "unhealthyThreshold", f.hcUn},
		{"repo", "source", "repo", f.repo},
		{"branch", "source", "branch", f.branch},
		{"auto-deploy", "source", "autoDeploy", f.autoDeploy},
	} {
		if changed(it.flag) {
			sub(it.obj)[it.key] = it.val
		}
	}
	if changed("network") {
		body["networks"] = f.networks
	}
	if changed("domain") {
		body["domains"] = f.domains
	}
	return body, nil
}

// parsePairs reads NAME=VALUE arguments.
func parsePairs(what string, pairs []string) (map[string]string, error) {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErrorf("%s %q: want NAME=VALUE", what, p)
		}
		m[k] = v
	}
	return m, nil
}

func newServicesCreateCmd(g *globals) *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service",
		Example: `  apprun services create web --min 0 --max 5 --concurrency 50
  apprun services create api --env LOG_LEVEL=debug --secret DB_PASSWORD=s3cret --health-protocol HTTP --health-path /healthz
  apprun services create -f service.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := f.body(cmd, g.readStdin)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				body["name"] = args[0]
			}
			if _, ok := body["name"]; !ok {
				return usageErrorf("a service NAME is needed (argument, or \"name\" in --file)")
			}
			return g.sendService(cmd, "POST", "/api/v1/services", body, "Created")
		},
	}
	f.register(cmd, true)
	return cmd
}

func newServicesUpdateCmd(g *globals) *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a service's settings (only the flags given change)",
		Example: `  apprun services update web --min 0 --max 10
  apprun services update web --health-protocol HTTP --health-path /ready`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := f.body(cmd, g.readStdin)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return usageErrorf("nothing to change: give at least one setting flag or --file")
			}
			return g.sendService(cmd, "PATCH", "/api/v1/services/"+pathEscape(args[0]), body, "Updated")
		},
	}
	f.register(cmd, false)
	return cmd
}

func (g *globals) sendService(cmd *cobra.Command, method, path string, body map[string]any, verb string) error {
	raw, err := g.call(cmd, method, path, body)
	if raw == nil {
		return err
	}
	var s serviceView
	if err := decode(raw, &s); err != nil {
		return err
	}
	fmt.Fprintf(g.io.out, "%s service %s\n", verb, s.Name)
	return printService(g, s)
}

func newServicesListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List services",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := g.call(cmd, "GET", "/api/v1/services", nil)
			if raw == nil {
				return err
			}
			var resp struct {
				Services []serviceView `json:"services"`
			}
			if err := decode(raw, &resp); err != nil {
				return err
			}
			if len(resp.Services) == 0 {
				fmt.Fprintln(g.io.out, "No services yet. Create one with: apprun services create NAME")
				return nil
			}
			now := time.Now()
			t := newTable(g.io.out, "NAME", "URL", "INSTANCES", "CONCURRENCY", "SIZE", "UPDATED")
			for _, s := range resp.Services {
				t.row(s.Name, orDash(s.URL),
					fmt.Sprintf("%d-%d", s.Scaling.MinInstances, s.Scaling.MaxInstances),
					strconv.Itoa(s.Scaling.MaxConcurrency),
					fmt.Sprintf("%gvCPU/%dMiB", s.InstanceSize.CPU, s.InstanceSize.MemoryMB),
					ago(s.UpdatedAt, now))
			}
			return t.flush()
		},
	}
}

func newServicesGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Aliases: []string{"show", "info"},
		Short:   "Show a service",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := g.call(cmd, "GET", "/api/v1/services/"+pathEscape(args[0]), nil)
			if raw == nil {
				return err
			}
			var s serviceView
			if err := decode(raw, &s); err != nil {
				return err
			}
			return printService(g, s)
		},
	}
}

func printService(g *globals, s serviceView) error {
	t := newTable(g.io.out, "=== "+s.Name, "")
	port := "from apprun.yaml, else 8080"
	if s.Port != 0 {
		port = strconv.Itoa(s.Port)
	}
	hc := s.HealthCheck
	health := fmt.Sprintf("%s every %ds, timeout %ds, healthy after %d, unhealthy after %d", hc.Protocol, hc.Interval, hc.Timeout, hc.HealthyThreshold, hc.UnhealthyThreshold)
	if hc.Protocol == spec.ProtocolHTTP {
		health = fmt.Sprintf("HTTP GET %s every %ds, timeout %ds, healthy after %d, unhealthy after %d", hc.Path, hc.Interval, hc.Timeout, hc.HealthyThreshold, hc.UnhealthyThreshold)
	}
	envKeys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		envKeys = append(envKeys, k)
	}
	slices.Sort(envKeys)
	source := "push or upload only"
	if s.Source.Repo != "" {
		source = fmt.Sprintf("%s (branch %s, auto-deploy %v)", s.Source.Repo, s.Source.Branch, s.Source.AutoDeploy)
	}
	for _, r := range [][2]string{
		{"ID:", s.ID},
		{"URL:", orDash(s.URL)},
		{"Port:", port},
		{"Scaling:", fmt.Sprintf("%d to %d instances, %d concurrent requests each", s.Scaling.MinInstances, s.Scaling.MaxInstances, s.Scaling.MaxConcurrency)},
		{"Instance size:", fmt.Sprintf("%g vCPU, %d MiB", s.InstanceSize.CPU, s.InstanceSize.MemoryMB)},
		{"Health check:", health},
		{"Env:", orDash(strings.Join(envKeys, ", "))},
		{"Secrets:", orDash(strings.Join(s.SecretNames, ", "))},
		{"Networks:", orDash(strings.Join(s.Networks, ", "))},
		{"Domains:", orDash(strings.Join(s.Domains, ", "))},
		{"Source:", source},
		{"Created:", s.CreatedAt.Format(time.RFC3339)},
		{"Updated:", s.UpdatedAt.Format(time.RFC3339)},
	} {
		t.row(r[0], r[1])
	}
	return t.flush()
}

func newServicesDeleteCmd(g *globals) *cobra.Command {
	var confirm string
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm", "destroy"},
		Short:   "Delete a service, its secrets, deployments and revisions, and stop its instances",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm != args[0] {
				return usageErrorf("deleting %s cannot be undone: repeat its name with --confirm %s", args[0], args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.do(cmd.Context(), "DELETE", "/api/v1/services/"+pathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"deleted": args[0]})
			}
			fmt.Fprintf(g.io.out, "Deleted service %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&confirm, "confirm", "", "the service's name, to confirm")
	return cmd
}

func (g *globals) readStdin() ([]byte, error) {
	return io.ReadAll(io.LimitReader(g.io.in, 16<<20))
}
