package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keys and git-remote against a real server (no builds: no engine needed).
func TestKeysAndGitRemoteCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the apprun binary")
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed (apt-get install openssh-client)")
	}
	srv := startServer(t, t.TempDir(), "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	env := map[string]string{"APPRUN_SERVER": srv.api, "APPRUN_TOKEN": srv.token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	key := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")

	code, out, errs := cli(t, env, string(pub), "keys", "add", "--name", "ci", "-", "--json")
	var k struct{ ID, Name, Fingerprint string }
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || k.Name != "ci" || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Fatalf("keys add -: %d %s%s", code, out, errs)
	}
	if code, _, errs := cli(t, env, "", "keys", "add", key+".pub"); code == 0 || !strings.Contains(errs, "already added") {
		t.Errorf("adding the key twice: %d %s", code, errs)
	}
	if code, _, errs := cli(t, env, "", "keys", "add", key); code == 0 || !strings.Contains(errs, "private key") {
		t.Errorf("adding a private key: %d %s", code, errs)
	}
	if code, out, _ := cli(t, env, "", "keys", "list"); code != 0 || !strings.Contains(out, k.ID) || !strings.Contains(out, k.Fingerprint) {
		t.Errorf("keys list: %d %s", code, out)
	}

	if code, _, errs := cli(t, env, "", "git-remote", "nope"); code == 0 || !strings.Contains(errs, "nope") {
		t.Errorf("git-remote of a missing service: %d %s", code, errs)
	}
	if code, out, errs := cli(t, env, "", "services", "create", "hello"); code != 0 {
		t.Fatalf("services create: %d %s%s", code, out, errs)
	}
	code, out, errs = cli(t, env, "", "git-remote", "hello")
	if code != 0 || !strings.Contains(out, srv.api+"/git/hello.git") || !regexp.MustCompile(`ssh://git@127\.0\.0\.1:\d+/hello\.git`).MatchString(out) {
		t.Errorf("git-remote: %d %s%s", code, out, errs)
	}

	if code, out, errs := cli(t, env, "", "keys", "remove", k.ID); code != 0 || !strings.Contains(out, "Removed key") {
		t.Errorf("keys remove: %d %s%s", code, out, errs)
	}
	if code, _, _ := cli(t, env, "", "keys", "remove", k.ID); code == 0 {
		t.Error("removing a removed key exited 0")
	}
}
