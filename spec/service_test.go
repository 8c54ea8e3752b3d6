package spec

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNewServiceIsValid(t *testing.T) {
	if err := NewService("app").Validate(); err != nil {
		t.Fatalf("NewService with defaults: %v", err)
	}
}

// TestServiceValidate changes one setting of a valid service per case and
// checks the fields of the problems that follow.
func TestServiceValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Service)
		fields []string // nil: valid
	}{
		{"defaults", func(*Service) {}, nil},
		{"empty name", func(s *Service) { s.Name = "" }, []string{"name"}},
		{"bad name", func(s *Service) { s.Name = "My_App" }, []string{"name"}},
		{"port 0 means default", func(s *Service) { s.Port = 0 }, nil},
		{"port 1", func(s *Service) { s.Port = 1 }, nil},
		{"port 65535", func(s *Service) { s.Port = 65535 }, nil},
		{"port 65536", func(s *Service) { s.Port = 65536 }, []string{"port"}},
		{"negative port", func(s *Service) { s.Port = -1 }, []string{"port"}},
		{"env", func(s *Service) { s.Env = map[string]string{"A": "1", "_B2": ""} }, nil},
		{"env names", func(s *Service) { s.Env = map[string]string{"1A": "x", "A-B": "y", "OK": "z"} }, []string{"env.1A", "env.A-B"}},
		{"env value with NUL", func(s *Service) { s.Env = map[string]string{"A": "a\x00"} }, []string{"env.A"}},
		{"env name too long", func(s *Service) { s.Env = map[string]string{strings.Repeat("A", 256): ""} }, []string{"env." + strings.Repeat("A", 256)}},
		{"maxConcurrency 0", func(s *Service) { s.Scaling.MaxConcurrency = 0 }, []string{"scaling.maxConcurrency"}},
		{"maxConcurrency limit", func(s *Service) { s.Scaling.MaxConcurrency = MaxConcurrencyLimit }, nil},
		{"maxConcurrency over", func(s *Service) { s.Scaling.MaxConcurrency = MaxConcurrencyLimit + 1 }, []string{"scaling.maxConcurrency"}},
		{"minInstances 0 scales to zero", func(s *Service) { s.Scaling.MinInstances = 0 }, nil},
		{"negative minInstances", func(s *Service) { s.Scaling.MinInstances = -1 }, []string{"scaling.minInstances"}},
		{"minInstances over", func(s *Service) {
			s.Scaling.MinInstances, s.Scaling.MaxInstances = MaxInstancesLimit+1, MaxInstancesLimit
		}, []string{"scaling.minInstances"}}, // one mistake, one problem
		{"maxInstances 0", func(s *Service) { s.Scaling.MinInstances, s.Scaling.MaxInstances = 0, 0 }, []string{"scaling.maxInstances"}},
		{"maxInstances over", func(s *Service) { s.Scaling.MaxInstances = MaxInstancesLimit + 1 }, []string{"scaling.maxInstances"}},
		{"maxInstances below minInstances", func(s *Service) { s.Scaling.MinInstances, s.Scaling.MaxInstances = 5, 4 }, []string{"scaling.maxInstances"}},
		{"maxInstances equal to minInstances", func(s *Service) { s.Scaling.MinInstances, s.Scaling.MaxInstances = 5, 5 }, nil},
		{"HTTP health check", func(s *Service) { s.HealthCheck.Protocol, s.HealthCheck.Path = ProtocolHTTP, "/healthz?full=1" }, nil},
		{"bad protocol", func(s *Service) { s.HealthCheck.Protocol = "http" }, []string{"healthCheck.protocol"}},
		{"empty path", func(s *Service) { s.HealthCheck.Path = "" }, []string{"healthCheck.path"}},
		{"relative path", func(s *Service) { s.HealthCheck.Path = "health" }, []string{"healthCheck.path"}},
		{"path with a space", func(s *Service) { s.HealthCheck.Path = "/a b" }, []string{"healthCheck.path"}},
		{"path with a newline", func(s *Service) { s.HealthCheck.Path = "/a\nb" }, []string{"healthCheck.path"}},
		{"path too long", func(s *Service) { s.HealthCheck.Path = "/" + strings.Repeat("a", 1024) }, []string{"healthCheck.path"}},
		{"path at the limit", func(s *Service) { s.HealthCheck.Path = "/" + strings.Repeat("a", 1023) }, nil},
		{"interval 0", func(s *Service) { s.HealthCheck.Interval = 0 }, []string{"healthCheck.interval"}},
		{"interval 21", func(s *Service) { s.HealthCheck.Interval = 21 }, []string{"healthCheck.interval"}},
		{"timeout 0", func(s *Service) { s.HealthCheck.Timeout = 0 }, []string{"healthCheck.timeout"}},
		{"timeout 21", func(s *Service) { s.HealthCheck.Timeout = 21 }, []string{"healthCheck.timeout"}},
		{"healthyThreshold 0", func(s *Service) { s.HealthCheck.HealthyThreshold = 0 }, []string{"healthCheck.healthyThreshold"}},
		{"healthyThreshold 21", func(s *Service) { s.HealthCheck.HealthyThreshold = 21 }, []string{"healthCheck.healthyThreshold"}},
		{"unhealthyThreshold 0", func(s *Service) { s.HealthCheck.UnhealthyThreshold = 0 }, []string{"healthCheck.unhealthyThreshold"}},
		{"unhealthyThreshold 21", func(s *Service) { s.HealthCheck.UnhealthyThreshold = 21 }, []string{"healthCheck.unhealthyThreshold"}},
		{"bounds 1 and 20", func(s *Service) {
			s.HealthCheck.Interval, s.HealthCheck.Timeout = 1, 20
			s.HealthCheck.HealthyThreshold, s.HealthCheck.UnhealthyThreshold = 20, 1
		}, nil},
		{"cpu 0.25", func(s *Service) { s.InstanceSize.CPU = 0.25 }, nil},
		{"cpu too small", func(s *Service) { s.InstanceSize.CPU = 0.05 }, []string{"instanceSize.cpu"}},
		{"cpu too large", func(s *Service) { s.InstanceSize.CPU = 65 }, []string{"instanceSize.cpu"}},
		{"cpu NaN", func(s *Service) { s.InstanceSize.CPU = math.NaN() }, []string{"instanceSize.cpu"}},
		{"memory too small", func(s *Service) { s.InstanceSize.MemoryMB = 63 }, []string{"instanceSize.memoryMB"}},
		{"memory too large", func(s *Service) { s.InstanceSize.MemoryMB = 262145 }, []string{"instanceSize.memoryMB"}},
		{"networks", func(s *Service) { s.Networks = []string{"db", "cache"} }, nil},
		{"bad network", func(s *Service) { s.Networks = []string{"db", "Bad"} }, []string{"networks[1]"}},
		{"duplicate network", func(s *Service) { s.Networks = []string{"db", "cache", "db"} }, []string{"networks[2]"}},
		{"domains", func(s *Service) { s.Domains = []string{"app.example.com", "www.example.com"} }, nil},
		{"bad domain", func(s *Service) { s.Domains = []string{"*.example.com"} }, []string{"domains[0]"}},
		{"duplicate domain", func(s *Service) { s.Domains = []string{"a.example.com", "a.example.com"} }, []string{"domains[1]"}},
		{"https repo", func(s *Service) { s.Source.Repo = "https://github.com/a/b.git" }, nil},
		{"ssh repo with user", func(s *Service) { s.Source.Repo = "ssh://git@github.com/a/b.git" }, nil},
		{"repo scheme", func(s *Service) { s.Source.Repo = "file:///srv/repo" }, []string{"source.repo"}},
		{"scp-style repo", func(s *Service) { s.Source.Repo = "git@github.com:a/b.git" }, []string{"source.repo"}},
		{"repo without host", func(s *Service) { s.Source.Repo = "https:///a/b" }, []string{"source.repo"}},
		{"repo with credentials", func(s *Service) { s.Source.Repo = "https://u:p@github.com/a/b" }, []string{"source.repo"}},
		{"repo not a URL", func(s *Service) { s.Source.Repo = "https://a b/%zz" }, []string{"source.repo"}},
		{"empty branch", func(s *Service) { s.Source.Branch = "" }, []string{"source.branch"}},
		{"poll 1m", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "1m" }, nil},
		{"poll 30s", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "30s" }, nil},
		{"poll 29s", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "29s" }, []string{"source.poll"}},
		{"poll not a duration", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "often" }, []string{"source.poll"}},
		{"poll negative", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "-1m" }, []string{"source.poll"}},
		{"poll over a day", func(s *Service) { s.Source.Repo, s.Source.Poll = "https://github.com/a/b.git", "25h" }, []string{"source.poll"}},
		{"poll without repo", func(s *Service) { s.Source.Poll = "1m" }, []string{"source.poll"}},
		{"protocol-relative health path", func(s *Service) { s.HealthCheck.Path = "//evil.example/x" }, []string{"healthCheck.path"}},
		{"option as branch", func(s *Service) { s.Source.Branch = "--upload-pack=touch /tmp/x" }, []string{"source.branch"}},
		{"every problem at once", func(s *Service) {
			s.Name, s.Port, s.Scaling.MaxConcurrency, s.HealthCheck.Protocol = "", 70000, 0, "UDP"
			s.InstanceSize.MemoryMB, s.Networks, s.Domains, s.Source.Branch = 0, []string{"-"}, []string{"x"}, ".x"
		}, []string{"name", "port", "scaling.maxConcurrency", "healthCheck.protocol", "instanceSize.memoryMB",
			"networks[0]", "domains[0]", "source.branch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService("app")
			tt.change(&s)
			err := s.Validate()
			ps, ok := AsProblems(err)
			if err != nil && !ok {
				t.Fatalf("error %v is not Problems", err)
			}
			var fields []string
			for _, p := range ps {
				fields = append(fields, p.Field)
				if p.Message == "" {
					t.Errorf("problem at %s has no message", p.Field)
				}
			}
			if !reflect.DeepEqual(fields, tt.fields) {
				t.Errorf("fields = %q, want %q (%v)", fields, tt.fields, err)
			}
		})
	}
}

func TestScalingMessage(t *testing.T) {
	ps := Scaling{MaxConcurrency: 1, MinInstances: 3, MaxInstances: 2}.Validate()
	if len(ps) != 1 || ps[0].Message != "must be at least minInstances (3), got 2" {
		t.Errorf("problems = %v", ps)
	}
}

func TestValidateSecrets(t *testing.T) {
	if err := ValidateSecrets(map[string]string{"DB_URL": "x", "TOKEN": ""}); err != nil {
		t.Errorf("valid secrets: %v", err)
	}
	ps, _ := AsProblems(ValidateSecrets(map[string]string{"B-1": "x", "A": "a\x00"}))
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	if want := []string{"secrets.A", "secrets.B-1"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %v, want %v", fields, want)
	}
}

func TestNetworkValidate(t *testing.T) {
	if err := (Network{Name: "db"}).Validate(); err != nil {
		t.Errorf("valid network: %v", err)
	}
	ps, _ := AsProblems(Network{Name: "DB"}.Validate())
	if len(ps) != 1 || ps[0].Field != "name" {
		t.Errorf("problems = %v", ps)
	}
}

func TestProblems(t *testing.T) {
	var ps Problems
	if ps.Err() != nil {
		t.Error("empty Problems is an error")
	}
	ps.Add("a", "bad %d", 1)
	ps.Merge("scaling", Problems{{Field: "max", Message: "m", Line: 3}, {Field: "[2]", Message: "i"}, {Message: "whole"}})
	want := "a: bad 1; line 3: scaling.max: m; scaling[2]: i; scaling: whole"
	if got := ps.Err().Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, ok := AsProblems(ps.Err()); !ok || len(got) != 4 {
		t.Errorf("AsProblems = %v, %v", got, ok)
	}
}
