package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	valid := func() Config {
		c := Config{DataDir: "/var/lib/apprun", Source: fstest.MapFS{}}
		c.SetDefaults()
		return c
	}
	c := valid()
	if c.RunImage != DefaultRunImage || c.BuildImage != DefaultBuildImage || c.BuilderImage != DefaultBuilderImage ||
		c.LifecycleVersion != "0.21.0" || c.LifecycleImage != "buildpacksio/lifecycle:0.21.0" || c.Progress == nil || c.Log == nil {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data dir must be set"},
		{"relative data dir", func(c *Config) { c.DataDir = "data" }, "absolute"},
		{"no source", func(c *Config) { c.Source = nil }, "source must be set"},
		{"bad version", func(c *Config) { c.LifecycleVersion = "latest" }, "lifecycle version"},
		{"untagged image", func(c *Config) { c.RunImage = "apprun/run" }, "run image"},
		{"uppercase image", func(c *Config) { c.BuilderImage = "Apprun/builder:x" }, "builder image"},
		{"same name twice", func(c *Config) { c.BuildImage = c.RunImage }, "both"},
		{"relative GOROOT", func(c *Config) { c.GoRoot = "go" }, "GOROOT"},
		{"no defaults", func(c *Config) { c.Log = nil }, "SetDefaults"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestDockerAPIEnv(t *testing.T) {
	for _, tt := range []struct{ version, want string }{
		{"1.41", "1.41"}, {"1.43", "1.43"}, {"1.44", ""}, {"1.52", ""}, {"2.0", ""}, {"1.9", "1.9"},
	} {
		got, err := dockerAPIEnv(tt.version)
		if err != nil || got != tt.want {
			t.Errorf("dockerAPIEnv(%s) = %q, %v; want %q", tt.version, got, err, tt.want)
		}
	}
	if _, err := dockerAPIEnv("v1"); err == nil {
		t.Error("accepted a malformed version")
	}
}

func TestReadMessages(t *testing.T) {
	var out strings.Builder
	ok := `{"stream":"Step 1/3 : FROM apprun/run:bookworm\n"}{"stream":" ---> abc\n"}{"aux":{"ID":"sha256:1"}}`
	if err := readMessages(strings.NewReader(ok), &out); err != nil || !strings.Contains(out.String(), "Step 1/3") {
		t.Errorf("readMessages = %v, output %q", err, out.String())
	}
	bad := `{"status":"Downloading"}{"errorDetail":{"message":"pull access denied for x"},"error":"pull access denied for x"}`
	if err := readMessages(strings.NewReader(bad), &out); err == nil || err.Error() != "pull access denied for x" {
		t.Errorf("readMessages = %v", err)
	}
	if err := readMessages(strings.NewReader(`{"stream":`), &out); err == nil {
		t.Error("a cut stream was accepted")
	}
}

func TestRunCommandError(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	_, err := runCommand(context.Background(), log, command{argv: []string{"sh", "-c", "echo one >&2; echo two >&2; exit 3"}})
	var ce *commandError
	if !errors.As(err, &ce) || err.Error() != "sh exited 3: one\ntwo" {
		t.Errorf("error %v", err)
	}
	out, err := runCommand(context.Background(), log, command{argv: []string{"sh", "-c", "echo $X"}, env: []string{"X=over"}})
	if err != nil || out != "over\n" {
		t.Errorf("out %q, %v", out, err)
	}
	if got := lastLines(strings.Repeat("x", 10)+"\nlast line", 12); got != "…last line" {
		t.Errorf("lastLines = %q", got)
	}
}
