package builder

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.BuilderImage != DefaultBuilderImage || c.LifecycleImage != DefaultLifecycleImage || c.Network != "none" ||
		c.Pull != "never" || c.TrustBuilder || c.TimeLimit != 15*time.Minute || c.MemoryMB != 2048 || c.MaxConcurrent < 1 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.CPUs <= 0 || c.CPUs > DefaultCPUs {
		t.Fatalf("CPUs %g", c.CPUs)
	}
}

func TestConfigForeignBuilderKeepsPacksLifecycleChoice(t *testing.T) {
	c := Config{BuilderImage: "paketobuildpacks/builder-jammy-base", Pull: "if-not-present"}
	c.SetDefaults()
	if c.LifecycleImage != "" {
		t.Fatalf("LifecycleImage %q; want empty so pack matches the builder's lifecycle", c.LifecycleImage)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		change func(*Config)
		field  string
	}{
		{func(c *Config) { c.Pull = "sometimes" }, "builder.pull"},
		{func(c *Config) { c.Network = "host" }, "builder.network"},
		{func(c *Config) { c.Network = "container:db" }, "builder.network"},
		{func(c *Config) { c.PackHome = "relative/pack" }, "builder.packHome"},
		{func(c *Config) { c.MaxConcurrent = -1 }, "builder.maxConcurrent"},
		{func(c *Config) { c.TimeLimit = time.Millisecond }, "builder.timeLimit"},
		{func(c *Config) { c.CPUs = -1 }, "builder.cpus"},
		{func(c *Config) { c.MemoryMB = 8 }, "builder.memoryMB"},
		{func(c *Config) { c.PidsLimit = 1 }, "builder.pidsLimit"},
		{func(c *Config) { c.BuilderImage = " " }, "builder.builderImage"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			var c Config
			c.SetDefaults()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}
