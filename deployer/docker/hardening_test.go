package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
)

// inspectOf is what the engine would report for the create request of s,
// near enough for CheckHardenedInspect.
func inspectOf(t *testing.T, s deployer.InstanceSpec) container.InspectResponse {
	t.Helper()
	opts, err := createOptions(s, 2)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Config.User == "" {
		opts.Config.User = "1000:1000" // the image's, merged by the engine
	}
	return container.InspectResponse{Name: "/" + s.Name, Config: opts.Config, HostConfig: opts.HostConfig}
}

func TestCreateOptionsAreHardened(t *testing.T) {
	for _, s := range []deployer.InstanceSpec{
		{Name: "zero", Image: "img", Network: "apprun"},
		{Name: "sized", Image: "img", Network: "apprun", CPUs: 64, MemoryMB: 256, PidsLimit: 100,
			LogMaxBytes: 1 << 20, LogFiles: 2, StopGrace: 1500 * time.Millisecond, User: "2000"},
	} {
		if err := CheckHardenedInspect(inspectOf(t, s)); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}

func TestCreateOptionsValues(t *testing.T) {
	s := deployer.InstanceSpec{
		Name: "apprun-web-web-1", Image: "img", Network: "apprun", Networks: []string{"apprun-net-db"},
		Aliases: []string{"web"}, Labels: map[string]string{deployer.LabelService: "s1"},
		CPUs: 8, MemoryMB: 256, StopGrace: 1500 * time.Millisecond,
	}
	opts, err := createOptions(s, 2)
	if err != nil {
		t.Fatal(err)
	}
	h, c := opts.HostConfig, opts.Config
	if h.NanoCPUs != 2e9 {
		t.Errorf("NanoCPUs = %d, want the engine's 2 CPUs", h.NanoCPUs)
	}
	if h.Memory != 256<<20 || h.MemorySwap != h.Memory || *h.PidsLimit != DefaultPidsLimit {
		t.Errorf("memory %d, swap %d, pids %d", h.Memory, h.MemorySwap, *h.PidsLimit)
	}
	if h.LogConfig.Config["max-size"] != "10485760" || h.LogConfig.Config["max-file"] != "3" {
		t.Errorf("log config %v", h.LogConfig.Config)
	}
	if *c.StopTimeout != 2 {
		t.Errorf("StopTimeout = %d, want 1.5 s rounded up", *c.StopTimeout)
	}
	if c.Labels[deployer.LabelManaged] != "true" || c.Labels[labelPrimary] != "apprun" || c.Labels[deployer.LabelService] != "s1" {
		t.Errorf("labels %v", c.Labels)
	}
	if s.Labels[deployer.LabelManaged] != "" {
		t.Error("createOptions changed the caller's labels")
	}
	// One network at create (API 1.41), without the aliases: Start
	// connects the others with them.
	if len(opts.NetworkingConfig.EndpointsConfig) != 1 || len(opts.NetworkingConfig.EndpointsConfig["apprun"].Aliases) != 0 {
		t.Errorf("endpoints %v", opts.NetworkingConfig.EndpointsConfig)
	}
}

func TestCheckSpec(t *testing.T) {
	ok := deployer.InstanceSpec{Name: "n", Image: "i", Network: "apprun"}
	for name, change := range map[string]func(*deployer.InstanceSpec){
		"no name":          func(s *deployer.InstanceSpec) { s.Name = "" },
		"no image":         func(s *deployer.InstanceSpec) { s.Image = "" },
		"no network":       func(s *deployer.InstanceSpec) { s.Network = "" },
		"host network":     func(s *deployer.InstanceSpec) { s.Network = "host" },
		"host further":     func(s *deployer.InstanceSpec) { s.Networks = []string{"host"} },
		"container net":    func(s *deployer.InstanceSpec) { s.Networks = []string{"container:x"} },
		"network twice":    func(s *deployer.InstanceSpec) { s.Networks = []string{"apprun"} },
		"negative grace":   func(s *deployer.InstanceSpec) { s.StopGrace = -time.Second },
		"none as primary ": func(s *deployer.InstanceSpec) { s.Network = "none" },
	} {
		s := ok
		change(&s)
		if _, err := createOptions(s, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := createOptions(ok, 0); err != nil {
		t.Error(err)
	}
}

func TestCheckHardenedInspectCatches(t *testing.T) {
	base := deployer.InstanceSpec{Name: "x", Image: "img", Network: "apprun"}
	for name, tc := range map[string]struct {
		change func(*container.InspectResponse)
		want   string
	}{
		"privileged": {func(c *container.InspectResponse) { c.HostConfig.Privileged = true }, "privileged"},
		"caps kept":  {func(c *container.InspectResponse) { c.HostConfig.CapDrop = nil }, "capabilities"},
		"cap added":  {func(c *container.InspectResponse) { c.HostConfig.CapAdd = []string{"CAP_NET_ADMIN"} }, "added"},
		"no nnp":     {func(c *container.InspectResponse) { c.HostConfig.SecurityOpt = nil }, "no-new-privileges"},
		"no memory":  {func(c *container.InspectResponse) { c.HostConfig.Memory = 0 }, "memory"},
		"swap":       {func(c *container.InspectResponse) { c.HostConfig.MemorySwap = -1 }, "swap"},
		"no cpu":     {func(c *container.InspectResponse) { c.HostConfig.NanoCPUs = 0 }, "CPU"},
		"no pids":    {func(c *container.InspectResponse) { c.HostConfig.PidsLimit = nil }, "pids"},
		"root":       {func(c *container.InspectResponse) { c.Config.User = "0:0" }, "root"},
		"image root": {func(c *container.InspectResponse) { c.Config.User = "" }, "root"},
		"bind":       {func(c *container.InspectResponse) { c.HostConfig.Binds = []string{"/var/run/docker.sock:/s"} }, "binds"},
		"mount": {func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: mount.TypeBind, Source: "/"}}
		}, "mount"},
		"host net":    {func(c *container.InspectResponse) { c.HostConfig.NetworkMode = "host" }, "network mode"},
		"host pid":    {func(c *container.InspectResponse) { c.HostConfig.PidMode = "host" }, "PID"},
		"host ipc":    {func(c *container.InspectResponse) { c.HostConfig.IpcMode = "host" }, "IPC"},
		"host uts":    {func(c *container.InspectResponse) { c.HostConfig.UTSMode = "host" }, "UTS"},
		"ports":       {func(c *container.InspectResponse) { c.HostConfig.PublishAllPorts = true }, "ports"},
		"no rotation": {func(c *container.InspectResponse) { c.HostConfig.LogConfig.Config = nil }, "rotation"},
		"restart":     {func(c *container.InspectResponse) { c.HostConfig.RestartPolicy.Name = "always" }, "restart"},
		"seccomp unset": {func(c *container.InspectResponse) {
			c.HostConfig.SecurityOpt = append(c.HostConfig.SecurityOpt, "seccomp=unconfined")
		}, "unconfined"},
	} {
		c := inspectOf(t, base)
		tc.change(&c)
		err := CheckHardenedInspect(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", name, err, tc.want)
		}
	}
}

// TestCheckHardenedOnEngine runs the check on a container created (never
// started) on the engine without Start's hardening, so the check is seen
// to read what the engine really reports.
func TestCheckHardenedOnEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	s := appSpec(t, "bridge", "unhardened")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	created, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       s.Name,
		Config:     &container.Config{Image: s.Image, User: "0", Labels: testLabels(t)},
		HostConfig: &container.HostConfig{Binds: []string{"/var/run/docker.sock:/var/run/docker.sock:ro"}, Privileged: true, LogConfig: container.LogConfig{Type: "none"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Remove(context.Background(), created.ID) })
	err = e.CheckHardened(ctx, created.ID)
	for _, want := range []string{"privileged", "capabilities", "no-new-privileges", "memory", "pids", "root", "binds", "rotation"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckHardened missed %q: %v", want, err)
		}
	}
}
