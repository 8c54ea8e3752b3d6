package builder

import (
	"context"
	"testing"

	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeCreate records ContainerCreate calls; every other method of pack's
// Docker client is the nil interface's and must not be called.
type fakeCreate struct {
	packclient.DockerClient
	got []client.ContainerCreateOptions
}

func (f *fakeCreate) ContainerCreate(_ context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.got = append(f.got, opts)
	return client.ContainerCreateResult{ID: "c1"}, nil
}

func TestLimitedDockerAddsLimits(t *testing.T) {
	cfg := Config{CPUs: 1.5, MemoryMB: 512, PidsLimit: 256}
	fake := &fakeCreate{}
	d := &limitedDocker{DockerClient: fake, limits: cfg.limits(), labels: map[string]string{labelBuild: "b1"}}

	packHost := &container.HostConfig{
		Privileged:  true, // never passed on
		Binds:       []string{"pack-layers-x:/layers"},
		SecurityOpt: []string{"label=disable"},
		NetworkMode: "none",
	}
	packHost.Memory = 1 << 40
	packCfg := &container.Config{Image: "apprun/builder:bookworm", Labels: map[string]string{"author": "pack"}}
	if _, err := d.ContainerCreate(t.Context(), client.ContainerCreateOptions{Config: packCfg, HostConfig: packHost}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContainerCreate(t.Context(), client.ContainerCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, got := range fake.got {
		hc := got.HostConfig
		if hc.Privileged {
			t.Errorf("call %d: privileged", i)
		}
		if hc.Memory != 512<<20 || hc.MemorySwap != 512<<20 {
			t.Errorf("call %d: memory %d swap %d, want %d both", i, hc.Memory, hc.MemorySwap, 512<<20)
		}
		if hc.NanoCPUs != 1_500_000_000 {
			t.Errorf("call %d: NanoCPUs %d", i, hc.NanoCPUs)
		}
		if hc.PidsLimit == nil || *hc.PidsLimit != 256 {
			t.Errorf("call %d: PidsLimit %v", i, hc.PidsLimit)
		}
		if got.Config.Labels[labelBuild] != "b1" {
			t.Errorf("call %d: labels %v", i, got.Config.Labels)
		}
		var nnp bool
		for _, o := range hc.SecurityOpt {
			nnp = nnp || o == "no-new-privileges"
		}
		if !nnp {
			t.Errorf("call %d: security options %v lack no-new-privileges", i, hc.SecurityOpt)
		}
	}
	first := fake.got[0]
	if first.HostConfig.NetworkMode != "none" || len(first.HostConfig.Binds) != 1 || first.Config.Image != "apprun/builder:bookworm" || first.Config.Labels["author"] != "pack" {
		t.Errorf("pack's own settings were not kept: %+v %+v", first.HostConfig, first.Config)
	}
	// pack's own configs are left as they were.
	if !packHost.Privileged || packHost.Memory != 1<<40 || len(packHost.SecurityOpt) != 1 || len(packCfg.Labels) != 1 {
		t.Errorf("pack's configs were changed in place: %+v %+v", packHost, packCfg)
	}
}
