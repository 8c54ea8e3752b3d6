package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestGitSSHAddrConfig(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	c, err := loadServerConfig(filepath.Join("..", "..", "configs", "apprun.yaml"), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Git.SSHAddr != "127.0.0.1:2222" || c.Validate() != nil {
		t.Errorf("configs/apprun.yaml: git.sshAddr %q, %v", c.Git.SSHAddr, c.Validate())
	}
	env["APPRUN_GIT_SSH_ADDR"] = "0.0.0.0:22"
	if c, _ = loadServerConfig("", getenv); c.Git.SSHAddr != "0.0.0.0:22" {
		t.Errorf("APPRUN_GIT_SSH_ADDR: %q", c.Git.SSHAddr)
	}
	c.Git.SSHAddr = "2222"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "git.sshAddr") {
		t.Errorf("a bad git.sshAddr: %v", err)
	}
	c.Git.SSHAddr = ""
	if err := c.Validate(); err != nil {
		t.Errorf("no SSH: %v", err)
	}
}
