package spec

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Service is a named app: the settings apprun keeps for it through the API.
// The build and run settings that travel with the source (apprun.yaml,
// Procfile) are not here; they are snapshotted into each Revision.
//
// The zero value is not useful; start from NewService, which applies the
// defaults, then decode a request onto it so that absent fields keep them.
type Service struct {
	// ID is assigned by the store and never changes; on-disk paths and
	// container labels derive from it, never from the name.
	ID string `json:"id"`
	// Name is a DNS label; the service answers at <name>.<apps domain>.
	Name string `json:"name"`
	// Port is the port the app listens on inside its container; 0 means
	// "from apprun.yaml, else 8080" (App Runner's default).
	Port int `json:"port,omitempty"`
	// Env is plain configuration, visible in the API.
	Env map[string]string `json:"env,omitempty"`
	// SecretNames lists the secrets set on the service. Secret values are
	// write-only: they are encrypted at rest and never returned.
	SecretNames  []string     `json:"secretNames,omitempty"`
	Scaling      Scaling      `json:"scaling"`
	HealthCheck  HealthCheck  `json:"healthCheck"`
	InstanceSize InstanceSize `json:"instanceSize"`
	// Networks are the private networks (by name) the instances join.
	Networks []string `json:"networks,omitempty"`
	// Domains are custom hostnames attached to the service (each is
	// verified before a certificate is requested for it).
	Domains []string `json:"domains,omitempty"`
	// Formation is the number of instances to run per process type, set
	// by `apprun scale web=3 worker=1`. A process type it does not name
	// runs one instance ("web": Scaling.MinInstances, at least one, until
	// the autoscaler decides); 0 stops a type.
	Formation map[string]int `json:"formation,omitempty"`
	Source    Source         `json:"source"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// NewService returns a service called name with every default applied.
func NewService(name string) Service {
	return Service{
		Name:         name,
		Scaling:      DefaultScaling(),
		HealthCheck:  DefaultHealthCheck(),
		InstanceSize: DefaultInstanceSize(),
		Source:       DefaultSource(),
	}
}

// Validate returns every problem with the service's settings.
func (s Service) Validate() error {
	var ps Problems
	if err := ValidateName(s.Name); err != nil {
		ps.Add("name", "%v", err)
	}
	if s.Port != 0 && (s.Port < 1 || s.Port > 65535) {
		ps.Add("port", "must be between 1 and 65535, got %d", s.Port)
	}
	for _, k := range sortedKeys(s.Env) {
		if err := ValidateEnvName(k); err != nil {
			ps.Add("env."+k, "%v", err)
		}
		if strings.ContainsRune(s.Env[k], 0) {
			ps.Add("env."+k, "must not contain a NUL byte")
		}
	}
	for _, k := range sortedKeys(s.Formation) {
		if err := ValidateProcessType(k); err != nil {
			ps.Add("formation."+k, "%v", err)
		}
		if n := s.Formation[k]; n < 0 || n > MaxInstancesLimit {
			ps.Add("formation."+k, "must be between 0 and %d, got %d", MaxInstancesLimit, n)
		}
	}
	ps.Merge("scaling", s.Scaling.Validate())
	ps.Merge("healthCheck", s.HealthCheck.Validate())
	ps.Merge("instanceSize", s.InstanceSize.Validate())
	seen := map[string]bool{}
	for i, n := range s.Networks {
		f := fmt.Sprintf("networks[%d]", i)
		if err := ValidateName(n); err != nil {
			ps.Add(f, "%v", err)
		} else if seen[n] {
			ps.Add(f, "network %q is listed twice", n)
		}
		seen[n] = true
	}
	seen = map[string]bool{}
	for i, d := range s.Domains {
		f := fmt.Sprintf("domains[%d]", i)
		if err := ValidateHostname(d); err != nil {
			ps.Add(f, "%v", err)
		} else if seen[d] {
			ps.Add(f, "domain %q is listed twice", d)
		}
		seen[d] = true
	}
	ps.Merge("source", s.Source.Validate())
	return ps.Err()
}

// ValidateSecrets returns every problem with a set of secrets to write.
func ValidateSecrets(secrets map[string]string) error {
	var ps Problems
	for _, k := range sortedKeys(secrets) {
		if err := ValidateEnvName(k); err != nil {
			ps.Add("secrets."+k, "%v", err)
		}
		if strings.ContainsRune(secrets[k], 0) {
			ps.Add("secrets."+k, "must not contain a NUL byte")
		}
	}
	return ps.Err()
}

// Scaling is request-based autoscaling, with App Runner's names and defaults.
type Scaling struct {
	// MaxConcurrency is the most requests one instance serves at once; the
	// router queues above it and the autoscaler adds instances.
	MaxConcurrency int `json:"maxConcurrency"`
	// MinInstances may be 0: the service then scales to zero when idle and
	// the router holds the first request while an instance starts.
	MinInstances int `json:"minInstances"`
	MaxInstances int `json:"maxInstances"`
}

// Limits of the scaling settings.
const (
	MaxConcurrencyLimit = 1000
	MaxInstancesLimit   = 100
)

// DefaultScaling is App Runner's: 100 concurrent requests, 1 to 25 instances.
func DefaultScaling() Scaling {
	return Scaling{MaxConcurrency: 100, MinInstances: 1, MaxInstances: 25}
}

// Validate returns every problem with the scaling settings.
func (s Scaling) Validate() Problems {
	var ps Problems
	if s.MaxConcurrency < 1 || s.MaxConcurrency > MaxConcurrencyLimit {
		ps.Add("maxConcurrency", "must be between 1 and %d, got %d", MaxConcurrencyLimit, s.MaxConcurrency)
	}
	if s.MinInstances < 0 || s.MinInstances > MaxInstancesLimit {
		ps.Add("minInstances", "must be between 0 and %d, got %d", MaxInstancesLimit, s.MinInstances)
	}
	if s.MaxInstances < 1 || s.MaxInstances > MaxInstancesLimit {
		ps.Add("maxInstances", "must be between 1 and %d, got %d", MaxInstancesLimit, s.MaxInstances)
	}
	if len(ps) == 0 && s.MaxInstances < s.MinInstances {
		ps.Add("maxInstances", "must be at least minInstances (%d), got %d", s.MinInstances, s.MaxInstances)
	}
	return ps
}

// Health-check protocols.
const (
	ProtocolTCP  = "TCP"
	ProtocolHTTP = "HTTP"
)

// HealthCheck has App Runner's fields, defaults and bounds. Times are whole
// seconds, as in App Runner.
type HealthCheck struct {
	// Protocol is TCP (a connection to the port succeeds) or HTTP (a GET of
	// Path answers 2xx).
	Protocol           string `json:"protocol"`
	Path               string `json:"path"`
	Interval           int    `json:"interval"`
	Timeout            int    `json:"timeout"`
	HealthyThreshold   int    `json:"healthyThreshold"`
	UnhealthyThreshold int    `json:"unhealthyThreshold"`
}

// DefaultHealthCheck is App Runner's: TCP, path /, every 5 s, 2 s timeout,
// healthy after 1 success, unhealthy after 5 failures.
func DefaultHealthCheck() HealthCheck {
	return HealthCheck{Protocol: ProtocolTCP, Path: "/", Interval: 5, Timeout: 2, HealthyThreshold: 1, UnhealthyThreshold: 5}
}

// Validate returns every problem with the health check.
func (h HealthCheck) Validate() Problems {
	var ps Problems
	if h.Protocol != ProtocolTCP && h.Protocol != ProtocolHTTP {
		ps.Add("protocol", "must be %q or %q, got %q", ProtocolTCP, ProtocolHTTP, h.Protocol)
	}
	if !strings.HasPrefix(h.Path, "/") || strings.HasPrefix(h.Path, "//") || len(h.Path) > 1024 {
		ps.Add("path", "must start with a single '/' and be at most 1024 characters, got %q", h.Path)
	} else if u, err := url.ParseRequestURI(h.Path); err != nil || u.Host != "" || strings.ContainsAny(h.Path, " \r\n\t") {
		ps.Add("path", "must be an absolute URL path, got %q", h.Path)
	}
	between := func(field string, v int) {
		if v < 1 || v > 20 {
			ps.Add(field, "must be between 1 and 20, got %d", v)
		}
	}
	between("interval", h.Interval)
	between("timeout", h.Timeout)
	between("healthyThreshold", h.HealthyThreshold)
	between("unhealthyThreshold", h.UnhealthyThreshold)
	return ps
}

// InstanceSize is the CPU and memory each instance may use.
type InstanceSize struct {
	// CPU in vCPUs (cores), e.g. 0.25, 1, 2.
	CPU float64 `json:"cpu"`
	// MemoryMB in MiB.
	MemoryMB int `json:"memoryMB"`
}

// DefaultInstanceSize is App Runner's: 1 vCPU and 2 GB.
func DefaultInstanceSize() InstanceSize { return InstanceSize{CPU: 1, MemoryMB: 2048} }

// Validate returns every problem with the instance size.
func (s InstanceSize) Validate() Problems {
	var ps Problems
	if !(s.CPU >= 0.1 && s.CPU <= 64) {
		ps.Add("cpu", "must be between 0.1 and 64 vCPUs, got %v", s.CPU)
	}
	if s.MemoryMB < 64 || s.MemoryMB > 262144 {
		ps.Add("memoryMB", "must be between 64 and 262144 MiB, got %d", s.MemoryMB)
	}
	return ps
}

// Source is where a service's code comes from when it is not pushed.
type Source struct {
	// Repo is a git remote URL (https:// or ssh://); empty for services
	// deployed only by push or archive upload.
	Repo string `json:"repo,omitempty"`
	// Branch is the deploy branch (default main).
	Branch string `json:"branch"`
	// AutoDeploy deploys every push to Branch (by webhook or polling).
	AutoDeploy bool `json:"autoDeploy"`
	// Poll, for a repository host that cannot send webhooks, is how often
	// apprun asks Repo for Branch's head and deploys a new one: a duration
	// such as "1m", at least MinPollInterval; "" (the default) polls never.
	Poll string `json:"poll,omitempty"`
}

// MinPollInterval bounds Source.Poll from below, so that polling stays
// polite to the repository host.
const MinPollInterval = 30 * time.Second

// PollInterval is Poll as a duration; 0 when polling is off (or Poll is
// not valid, which Validate reports).
func (s Source) PollInterval() time.Duration {
	if s.Poll == "" {
		return 0
	}
	d, err := time.ParseDuration(s.Poll)
	if err != nil || d < MinPollInterval {
		return 0
	}
	return d
}

// DefaultSource deploys branch main, automatically.
func DefaultSource() Source { return Source{Branch: "main", AutoDeploy: true} }

// Validate returns every problem with the source settings.
func (s Source) Validate() Problems {
	var ps Problems
	if s.Repo != "" {
		u, err := url.Parse(s.Repo)
		switch {
		case err != nil:
			ps.Add("repo", "is not a URL: %v", err)
		case u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh":
			ps.Add("repo", "must be an http(s):// or ssh:// URL, got scheme %q", u.Scheme)
		case u.Host == "":
			ps.Add("repo", "must name a host")
		case u.User != nil && u.Scheme != "ssh":
			ps.Add("repo", "must not embed credentials: store them as secrets")
		}
	}
	if err := ValidateBranch(s.Branch); err != nil {
		ps.Add("branch", "%v", err)
	}
	if s.Poll != "" {
		d, err := time.ParseDuration(s.Poll)
		switch {
		case err != nil:
			ps.Add("poll", "must be a duration such as 1m or 5m, got %q", s.Poll)
		case d < MinPollInterval:
			ps.Add("poll", "must be at least %s, got %s", MinPollInterval, s.Poll)
		case d > 24*time.Hour:
			ps.Add("poll", "must be at most 24h, got %s", s.Poll)
		case s.Repo == "":
			ps.Add("poll", "needs source.repo, the repository to poll")
		}
	}
	return ps
}

// ValidateBranch applies git's ref-name rules (git check-ref-format) plus
// apprun's own: a branch never starts with '-', so it can never be read as an
// option by git.
func ValidateBranch(b string) error {
	switch {
	case b == "":
		return fmt.Errorf("must not be empty")
	case len(b) > 255:
		return fmt.Errorf("must be at most 255 characters")
	case strings.HasPrefix(b, "-"), strings.HasPrefix(b, "/"), strings.HasSuffix(b, "/"),
		strings.HasSuffix(b, "."), strings.HasSuffix(b, ".lock"), strings.Contains(b, ".."),
		strings.Contains(b, "//"), strings.Contains(b, "@{"), b == "@", strings.Contains(b, "/."):
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	for _, r := range b {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Errorf("%q is not a valid branch name: %q is not allowed", b, r)
		}
	}
	for _, part := range strings.Split(b, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("%q is not a valid branch name: a component starts with '.' or ends with '.lock'", b)
		}
	}
	if b == "HEAD" {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
