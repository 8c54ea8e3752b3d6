package source

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// FetchOptions says what Fetch fetches and where it puts it.
type FetchOptions struct {
	// RepoURL is the remote: http:// or https:// (file:// only with
	// AllowPrivate, for tests). git:// and ssh:// are not supported.
	RepoURL string
	// Commit is the full object name (40 or 64 lowercase hex digits) to
	// check out; nothing else of the remote is used.
	Commit string
	// Dir is where the commit's tree is written; it must not exist. Its
	// parent holds the temporary repository while fetching.
	Dir string
	// Credentials for the remote: a token, or "user:password". They go
	// to git as an Authorization header in its environment, never in its
	// arguments, and are never logged.
	Credentials string
	// AllowPrivate lets RepoURL resolve to loopback, link-local,
	// metadata and unspecified addresses (an operator's choice; tests).
	AllowPrivate bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Git is the git binary; "" finds git on PATH.
	Git string
	// Resolver looks host names up; nil is net.DefaultResolver.
	Resolver Resolver
}

// Resolver is the part of *net.Resolver that Fetch uses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrFetchRefused is a repository URL Fetch will not fetch from: a scheme
// other than http(s), embedded credentials, or a host that resolves only to
// addresses the platform must not reach.
var ErrFetchRefused = errors.New("repository URL refused")

// fetchCommitRE is a full object name (SHA-1 or SHA-256).
var fetchCommitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// Fetch fetches exactly opts.Commit from opts.RepoURL (a shallow fetch of
// that one commit into a temporary repository) and writes its tree into
// opts.Dir. git runs with argv (no shell), a minimal environment, no
// hooks, no credential helpers, no redirects, only the http(s) protocols,
// and the address checked here pinned with http.curloptResolve, so that a
// DNS answer that changes between the check and the fetch cannot send git
// somewhere else.
func Fetch(ctx context.Context, opts FetchOptions) (err error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	if !fetchCommitRE.MatchString(opts.Commit) {
		return fmt.Errorf("%q is not a full commit name (40 or 64 lowercase hex digits)", clipFetch(opts.Commit))
	}
	if opts.Dir == "" {
		return errors.New("fetch: no destination directory")
	}
	if _, err := os.Lstat(opts.Dir); err == nil {
		return fmt.Errorf("fetch: %s already exists", opts.Dir)
	}
	res := opts.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	target, err := resolveFetchURL(ctx, res, opts.RepoURL, opts.AllowPrivate)
	if err != nil {
		return err
	}
	gitBin := opts.Git
	if gitBin == "" {
		if gitBin, err = exec.LookPath("git"); err != nil {
			return fmt.Errorf("fetch: git is not installed: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(opts.Dir), ".fetch-")
	if err != nil {
		return fmt.Errorf("fetch: making the temporary repository: %w", err)
	}
	defer os.RemoveAll(tmp)
	repo := filepath.Join(tmp, "repo.git")
	env := fetchEnv(tmp, opts.Credentials)
	git := func(stdout io.Writer, args ...string) error {
		full := append(fetchConfig(target, opts.AllowPrivate), args...)
		cmd := exec.CommandContext(ctx, gitBin, full...)
		cmd.Env = env
		cmd.Dir = tmp
		cmd.Stdout = stdout
		var errb fetchTail
		cmd.Stderr = &errb
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sub := args[0]
			for _, a := range args {
				if !strings.HasPrefix(a, "-") {
					sub = a
					break
				}
			}
			return fmt.Errorf("git %s: %w: %s", sub, err, errb.String())
		}
		return nil
	}
	if err := git(nil, "init", "--quiet", "--bare", "--", repo); err != nil {
		return err
	}
	fmt.Fprintf(log, "-----> Fetching %s from %s\n", opts.Commit[:12], target.display)
	err = git(nil, "--git-dir="+repo, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1",
		"--end-of-options", target.url, opts.Commit)
	if err != nil {
		return fetchError(err, opts.Commit, target.display)
	}
	// The fetched commit is checked as an object of the temporary
	// repository: the tree exported is exactly that commit's.
	if err := git(io.Discard, "--git-dir="+repo, "cat-file", "-e", "--end-of-options", opts.Commit+"^{commit}"); err != nil {
		return fmt.Errorf("the fetch of %s did not bring the commit: %w", opts.Commit[:12], err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := git(pw, "--git-dir="+repo, "archive", "--format=tar", "--end-of-options", opts.Commit)
		pw.CloseWithError(err)
		done <- err
	}()
	xerr := Extract(pr, opts.Dir, Limits{})
	if xerr == nil {
		// The tar reader stops at the end-of-archive marker; git may
		// write padding after it.
		_, _ = io.Copy(io.Discard, pr)
	}
	pr.CloseWithError(errors.New("extract stopped"))
	aerr := <-done
	if xerr != nil {
		return fmt.Errorf("writing the commit's tree: %w", xerr)
	}
	if aerr != nil {
		os.RemoveAll(opts.Dir)
		return aerr
	}
	return nil
}

// fetchError says plainly that the remote lacks the commit, when git's
// message says so.
func fetchError(err error, commit, where string) error {
	msg := err.Error()
	if strings.Contains(msg, "could not read Username") || strings.Contains(msg, "Authentication failed") || strings.Contains(msg, "returned error: 401") || strings.Contains(msg, "returned error: 403") {
		return fmt.Errorf("the repository %s refused the credentials (set or check the service's GIT_TOKEN secret): %w", where, err)
	}
	if commit == "" {
		return fmt.Errorf("asking %s for its branches: %w", where, err)
	}
	for _, s := range []string{"not our ref", "couldn't find remote ref", "no such remote ref", "upload-pack: not our ref", "did not send all necessary objects", "unadvertised object"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("the repository %s has no commit %s (was it force-pushed away?): %w", where, commit, err)
		}
	}
	return fmt.Errorf("fetching %s from %s: %w", commit[:12], where, err)
}

// fetchTarget is a checked repository URL and the address git must use.
type fetchTarget struct {
	url string
	// display is the URL for logs and errors (it has no credentials).
	display string
	// resolve is the http.curloptResolve entry "host:port:addr"; "" for
	// file:// URLs and IP literals.
	resolve string
	file    bool
}

// resolveFetchURL checks the URL's scheme, resolves its host and picks an
// address git may connect to.
func resolveFetchURL(ctx context.Context, r Resolver, raw string, allowPrivate bool) (fetchTarget, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || strings.ContainsAny(raw, "\x00\r\n\t ") {
		return fetchTarget{}, fmt.Errorf("%w: %q is not a URL", ErrFetchRefused, clipFetch(raw))
	}
	t := fetchTarget{url: u.String(), display: u.Redacted()}
	switch u.Scheme {
	case "https", "http":
	case "file":
		if !allowPrivate {
			return t, fmt.Errorf("%w: file:// repositories are only allowed when private fetch addresses are", ErrFetchRefused)
		}
		t.file = true
		return t, nil
	case "ssh", "git", "git+ssh", "ssh+git":
		return t, fmt.Errorf("%w: only http:// and https:// repositories can be fetched; %s:// is not supported", ErrFetchRefused, u.Scheme)
	default:
		return t, fmt.Errorf("%w: only http:// and https:// repositories can be fetched, got %q", ErrFetchRefused, clipFetch(raw))
	}
	if u.User != nil {
		return t, fmt.Errorf("%w: the URL must not embed credentials; store them as the service's GIT_TOKEN secret", ErrFetchRefused)
	}
	host := u.Hostname()
	if host == "" {
		return t, fmt.Errorf("%w: the URL names no host", ErrFetchRefused)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := checkFetchAddr(ip, allowPrivate); err != nil {
			return t, fmt.Errorf("%w: %s %v", ErrFetchRefused, host, err)
		}
		return t, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return t, fmt.Errorf("resolving %s: %w", host, err)
	}
	var reasons []string
	for _, a := range addrs {
		a = a.Unmap()
		if err := checkFetchAddr(a, allowPrivate); err != nil {
			reasons = append(reasons, a.String()+" "+err.Error())
			continue
		}
		ip := a.String()
		if a.Is6() {
			ip = "[" + ip + "]"
		}
		t.resolve = host + ":" + port + ":" + ip
		return t, nil
	}
	if len(reasons) == 0 {
		return t, fmt.Errorf("resolving %s: no addresses", host)
	}
	return t, fmt.Errorf("%w: %s resolves to %s", ErrFetchRefused, host, strings.Join(reasons, ", "))
}

// metadataAddrs are cloud instance-metadata services.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// checkFetchAddr refuses the addresses a fetch must not reach unless the
// operator allows it: loopback, link-local, unspecified, multicast and
// the metadata services. Private (RFC 1918, ULA) addresses are allowed: a
// self-hosted Gitea on the LAN is a normal source.
func checkFetchAddr(a netip.Addr, allowPrivate bool) error {
	a = a.Unmap()
	if !a.IsValid() {
		return errors.New("is not an address")
	}
	if allowPrivate {
		return nil
	}
	switch {
	case a.IsLoopback():
		return errors.New("is a loopback address")
	case a.IsUnspecified(), a.Is4() && thisNetwork.Contains(a):
		return errors.New("is an unspecified address")
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return errors.New("is a link-local address")
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return errors.New("is a multicast address")
	}
	for _, m := range metadataAddrs {
		if a == m {
			return errors.New("is a cloud metadata address")
		}
	}
	return nil
}

// fetchConfig is the -c options every git call gets.
func fetchConfig(t fetchTarget, allowPrivate bool) []string {
	args := []string{
		"-c", "protocol.allow=never",
		"-c", "protocol.https.allow=always",
		"-c", "protocol.http.allow=always",
		"-c", "core.hooksPath=/dev/null",
		"-c", "credential.helper=",
		"-c", "http.followRedirects=false",
		"-c", "core.askPass=",
		"-c", "http.proxy=",
		"-c", "core.fsmonitor=false",
	}
	if allowPrivate && t.file {
		args = append(args, "-c", "protocol.file.allow=always")
	}
	if t.resolve != "" {
		args = append(args, "-c", "http.curloptResolve="+t.resolve)
	}
	return args
}

// fetchEnv is git's whole environment: no user or system config, no
// prompts, and the credentials (when any) as an http.extraHeader passed
// through GIT_CONFIG_* variables rather than argv, where any user of the
// machine could read them.
func fetchEnv(home, credentials string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
		"SSH_ASKPASS=/bin/false",
		"GIT_PROTOCOL_FROM_USER=0",
		"LC_ALL=C",
	}
	if credentials != "" {
		user, pass, ok := strings.Cut(credentials, ":")
		if !ok {
			// A bare token: GitHub, GitLab and Gitea all take it as the
			// password of a basic login, with any user name.
			user, pass = "x-access-token", credentials
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic)
	}
	return env
}

// fetchTail keeps the last few KiB of git's stderr for error messages.
type fetchTail struct{ b []byte }

func (w *fetchTail) Write(p []byte) (int, error) {
	const keep = 4 << 10
	w.b = append(w.b, p...)
	if len(w.b) > keep {
		w.b = w.b[len(w.b)-keep:]
	}
	return len(p), nil
}

func (w *fetchTail) String() string { return strings.TrimSpace(string(w.b)) }

func clipFetch(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
