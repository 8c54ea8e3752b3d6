package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment names the server puts in git's environment for the hook.
const (
	envSocket    = "APPRUN_HOOK_SOCKET"
	envToken     = "APPRUN_HOOK_TOKEN"
	envService   = "APPRUN_SERVICE"
	envServiceID = "APPRUN_SERVICE_ID"
)

// gitEnv is the whole environment of a git process: nothing inherited but
// PATH (git finds its helpers with it) and what is named here. System and
// global config are off, so no file outside the data directory changes
// what git does; core.hooksPath points at apprun's own hooks directory.
func (s *Server) gitEnv(extra ...string) []string {
	env := []string{
		"PATH=" + s.path,
		"HOME=" + s.cfg.DataDir,
		"LANG=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		// core.hooksPath points at our directory, never at user data;
		// receive.fsckObjects refuses malformed objects; http.receivepack
		// lets http-backend run receive-pack for the authenticated user;
		// a push cannot delete the branch HEAD names.
		"GIT_CONFIG_COUNT=5",
		"GIT_CONFIG_KEY_0=core.hooksPath", "GIT_CONFIG_VALUE_0=" + s.hooksDir(),
		"GIT_CONFIG_KEY_1=receive.fsckObjects", "GIT_CONFIG_VALUE_1=true",
		"GIT_CONFIG_KEY_2=http.receivepack", "GIT_CONFIG_VALUE_2=true",
		"GIT_CONFIG_KEY_3=receive.denyDeleteCurrent", "GIT_CONFIG_VALUE_3=refuse",
		// A push's pack is bounded like an uploaded archive's tree.
		"GIT_CONFIG_KEY_4=receive.maxInputSize", "GIT_CONFIG_VALUE_4=1g",
	}
	return append(env, extra...)
}

// hookEnv is what the hook needs to reach the server.
func (s *Server) hookEnv(service, id string) []string {
	return []string{
		envSocket + "=" + s.socketPath(),
		envToken + "=" + s.token,
		envService + "=" + service,
		envServiceID + "=" + id,
	}
}

func (s *Server) reposDir() string          { return filepath.Join(s.cfg.DataDir, "repos") }
func (s *Server) hooksDir() string          { return filepath.Join(s.cfg.DataDir, "git", "hooks") }
func (s *Server) socketPath() string        { return filepath.Join(s.cfg.DataDir, "run", "git.sock") }
func (s *Server) checkoutsDir() string      { return filepath.Join(s.cfg.DataDir, "checkouts") }
func (s *Server) repoPath(id string) string { return filepath.Join(s.reposDir(), id+".git") }

// git runs one git command (argv, no shell) and returns its standard
// output; the error carries standard error.
func (s *Server) git(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.gitBin, args...)
	cmd.Env = env
	cmd.Dir = s.cfg.DataDir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ensureRepo makes the service's bare repository on first use, with its
// HEAD on the deploy branch so that a clone checks that out.
func (s *Server) ensureRepo(ctx context.Context, id, branch string) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	repo := s.repoPath(id)
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if _, err := os.Stat(filepath.Join(repo, "HEAD")); err == nil {
		return repo, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("repository of %s: %w", id, err)
	}
	if err := os.MkdirAll(s.reposDir(), 0o700); err != nil {
		return "", fmt.Errorf("making the repositories directory: %w", err)
	}
	// Made beside and renamed into place, so a half-made repository is
	// never served.
	tmp, err := os.MkdirTemp(s.reposDir(), ".init-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if branch == "" {
		branch = "main"
	}
	if _, err := s.git(ctx, s.gitEnv(), "init", "--quiet", "--bare", "--initial-branch="+branch, "--", tmp); err != nil {
		return "", err
	}
	// A push never removes the repository's only objects under a running
	// deploy, and an old git's repack never deletes the quarantine.
	for _, kv := range [][2]string{{"gc.auto", "0"}, {"receive.autogc", "false"}} {
		if _, err := s.git(ctx, s.gitEnv("GIT_DIR="+tmp), "config", "--", kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, repo); err != nil {
		return "", fmt.Errorf("repository of %s: %w", id, err)
	}
	s.log.Info("git repository created", "service_id", id, "path", repo)
	return repo, nil
}

// linkHook points <data>/git/hooks/pre-receive at the hook executable,
// replacing the link a previous apprun left (its binary may be gone).
func (s *Server) linkHook() error {
	dir := s.hooksDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making the hooks directory: %w", err)
	}
	link := filepath.Join(dir, "pre-receive")
	tmp := link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(s.hookBin, tmp); err != nil {
		return fmt.Errorf("linking the pre-receive hook: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("linking the pre-receive hook: %w", err)
	}
	return nil
}

// within reports whether path, which must be absolute, lies in dir.
func within(dir, path string) bool {
	if path == "" || strings.ContainsAny(path, "\x00\n") {
		return false
	}
	if !filepath.IsAbs(path) {
		return false
	}
	rel, err := filepath.Rel(dir, filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// RemoveRepo deletes a deleted service's bare repository (a service made
// again under the same name gets a new ID, and so a new repository). A
// missing repository is success.
func (s *Server) RemoveRepo(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if err := os.RemoveAll(s.repoPath(id)); err != nil {
		return fmt.Errorf("removing the repository of %s: %w", id, err)
	}
	return nil
}
