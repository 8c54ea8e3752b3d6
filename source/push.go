package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// push decides a pushed set of ref updates and returns the hook's exit
// code: a push to the deploy branch deploys exactly the pushed commit and
// is accepted only when the deployment succeeded; other branches are
// stored as they are; deleting the deploy branch is refused.
func (s *Server) push(ctx context.Context, req hookRequest, out io.Writer) int {
	start := time.Now()
	svc, repo, err := s.checkHook(ctx, req)
	if err != nil {
		s.log.Warn("hook refused", "service", req.Service, "err", err)
		fmt.Fprintf(out, "apprun: %v\n", err)
		return 1
	}
	updates, err := parseUpdates(req.Updates)
	if err != nil {
		fmt.Fprintf(out, "apprun: %v\n", err)
		return 1
	}
	branch := svc.Source.Branch
	if branch == "" {
		branch = "main"
	}
	deployRef := "refs/heads/" + branch
	var deploy *refUpdate
	for i, u := range updates {
		switch {
		case u.Ref == deployRef && u.deletes():
			fmt.Fprintf(out, "apprun: deleting %s, the deploy branch of %s, is refused\n", branch, svc.Name)
			return 1
		case u.Ref == deployRef:
			deploy = &updates[i]
		case u.deletes():
		default:
			fmt.Fprintf(out, "apprun deploys branch %s; %s was not deployed\n", branch, strings.TrimPrefix(u.Ref, "refs/heads/"))
		}
	}
	if deploy == nil {
		return 0
	}
	log := s.log.With("service", svc.Name, "commit", deploy.New)
	log.Info("git push: deploying")
	dir, err := s.export(ctx, repo, req, deploy.New)
	if err != nil {
		log.Error("git push: exporting the commit", "err", err)
		fmt.Fprintf(out, "apprun: exporting commit %s failed: %v\n", deploy.New, err)
		return 1
	}
	defer os.RemoveAll(dir)
	src := spec.DeploymentSource{Kind: "git", Ref: deploy.Ref, Commit: deploy.New}
	fmt.Fprintf(out, "-----> Deploying %s (%s) to %s\n", branch, short(deploy.New), svc.Name)
	dep, err := s.cfg.Deployer.DeployGit(ctx, svc.Name, dir, src, out)
	if err != nil {
		log.Warn("git push: the deployment failed", "deployment", dep.ID, "err", err)
		fmt.Fprintf(out, "-----> Push rejected: %v\n", oneLine(err))
		fmt.Fprintf(out, "       %s still serves what it served before; the branch was not updated.\n", svc.Name)
		return 1
	}
	if s.cfg.ServiceURL != nil {
		fmt.Fprintf(out, "       %s\n", s.cfg.ServiceURL(svc.Name))
	}
	fmt.Fprintf(out, "-----> Done in %.1fs\n", time.Since(start).Seconds())
	log.Info("git push: deployed", "deployment", dep.ID)
	return 0
}

// checkHook checks that a hook request names an existing service whose
// repository is the one the hook runs in, and that git's object
// directories lie inside it. It returns the service and its repository.
func (s *Server) checkHook(ctx context.Context, req hookRequest) (spec.Service, string, error) {
	if err := spec.ValidateName(req.Service); err != nil {
		return spec.Service{}, "", fmt.Errorf("service %q: %w", truncateName(req.Service), ErrBadName)
	}
	if err := checkID(req.ServiceID); err != nil {
		return spec.Service{}, "", err
	}
	svc, err := s.cfg.Store.GetService(ctx, req.Service)
	if err != nil {
		return spec.Service{}, "", err
	}
	if svc.ID != req.ServiceID {
		return spec.Service{}, "", fmt.Errorf("service %s was replaced during the push", svc.Name)
	}
	repo := s.repoPath(svc.ID)
	if d, err := filepath.EvalSymlinks(req.Dir); err != nil || !sameDir(d, repo) {
		return spec.Service{}, "", errors.New("the hook does not run in the service's repository")
	}
	objects := filepath.Join(repo, "objects")
	real, _ := filepath.EvalSymlinks(objects)
	in := func(p string) bool { return within(objects, p) || (real != "" && within(real, p)) }
	// A push of deletions only has no quarantine.
	if (req.Quarantine != "" && !in(req.Quarantine)) || (req.ObjectDir != "" && !in(req.ObjectDir)) {
		return spec.Service{}, "", errors.New("git's quarantine is not in the service's repository")
	}
	for _, alt := range filepath.SplitList(req.AltDirs) {
		if !in(alt) {
			return spec.Service{}, "", errors.New("git's alternate object directory is not in the service's repository")
		}
	}
	return svc, repo, nil
}

func sameDir(a, b string) bool {
	rb, err := filepath.EvalSymlinks(b)
	if err != nil {
		return false
	}
	return filepath.Clean(a) == filepath.Clean(rb)
}

// export writes the tree of commit into a fresh directory under
// checkouts/, reading the pushed objects from git's quarantine.
func (s *Server) export(ctx context.Context, repo string, req hookRequest, commit string) (string, error) {
	if !hexRE.MatchString(commit) {
		return "", fmt.Errorf("%q is not an object name", truncateName(commit))
	}
	var b [10]byte
	rand.Read(b[:])
	if err := os.MkdirAll(s.checkoutsDir(), 0o700); err != nil {
		return "", err
	}
	dir := filepath.Join(s.checkoutsDir(), hex.EncodeToString(b[:]))
	env := s.gitEnv("GIT_DIR=" + repo)
	if req.ObjectDir != "" {
		env = append(env, "GIT_OBJECT_DIRECTORY="+req.ObjectDir, "GIT_ALTERNATE_OBJECT_DIRECTORIES="+req.AltDirs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.gitBin, "archive", "--format=tar", "--end-of-options", commit)
	cmd.Env = env
	cmd.Dir = repo
	var errb strings.Builder
	cmd.Stderr = &limitedWriter{w: &errb, n: 8 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("git archive: %w", err)
	}
	xerr := Extract(stdout, dir, Limits{})
	if xerr != nil {
		cancel()
	}
	werr := cmd.Wait()
	if xerr != nil {
		os.RemoveAll(dir)
		return "", xerr
	}
	if werr != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("git archive: %w: %s", werr, strings.TrimSpace(errb.String()))
	}
	return dir, nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > l.n {
		p = p[:l.n]
	}
	l.n -= len(p)
	_, err := l.w.Write(p)
	return n, err
}

func short(commit string) string {
	if len(commit) > 10 {
		return commit[:10]
	}
	return commit
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}
