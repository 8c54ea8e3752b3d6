package source

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/apprun/apprun/spec"
)

// ErrBadName is a push URL or SSH command that names no service in a form
// apprun accepts.
var ErrBadName = errors.New("not a git repository of apprun")

// Git services a client may ask for.
const (
	ReceivePack = "git-receive-pack"
	UploadPack  = "git-upload-pack"
)

// checkService checks that a repository name taken from outside (a URL
// path or an SSH command) is a service name: a DNS label, so "..", "/",
// NUL, newlines, quotes and escapes can never reach a path or a command.
func checkService(s string) (string, error) {
	if err := spec.ValidateName(s); err != nil {
		return "", fmt.Errorf("repository %q: %w", truncateName(s), ErrBadName)
	}
	return s, nil
}

func truncateName(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// ParseHTTPPath parses the escaped path of a smart-HTTP request,
// "/git/<service>.git/<op>", where op is "info/refs", "git-upload-pack" or
// "git-receive-pack". Anything else (dumb HTTP, escapes such as "%2e%2e",
// dot segments, extra slashes) is refused: a client of the smart protocol
// never sends it.
func ParseHTTPPath(escaped string) (service, op string, err error) {
	rest, ok := strings.CutPrefix(escaped, "/git/")
	if !ok || strings.ContainsAny(rest, "%\\\x00\r\n") {
		return "", "", fmt.Errorf("path %q: %w", truncateName(escaped), ErrBadName)
	}
	repo, op, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("path %q: %w", truncateName(escaped), ErrBadName)
	}
	name, ok := strings.CutSuffix(repo, ".git")
	if !ok {
		return "", "", fmt.Errorf("path %q: the repository must end in .git: %w", truncateName(escaped), ErrBadName)
	}
	switch op {
	case "info/refs", UploadPack, ReceivePack:
	default:
		return "", "", fmt.Errorf("path %q: only the smart HTTP protocol is served: %w", truncateName(escaped), ErrBadName)
	}
	service, err = checkService(name)
	return service, op, err
}

// sshCommandRE is what git's SSH transport sends: the program, one space,
// the path in single quotes (git quotes it even when it need not).
var sshCommandRE = regexp.MustCompile(`^(git-receive-pack|git-upload-pack) '/?([^'/]*)'$`)

// ParseSSHCommand parses an SSH exec request, "git-receive-pack
// '<service>.git'" or "git-upload-pack '<service>.git'" (the path may start
// with "/", and ".git" may be left out). Every other command is refused;
// the result is used as data, never handed to a shell.
func ParseSSHCommand(cmd string) (verb, service string, err error) {
	m := sshCommandRE.FindStringSubmatch(cmd)
	if m == nil {
		return "", "", fmt.Errorf("command %q: only git-receive-pack and git-upload-pack '<service>.git' are allowed: %w", truncateName(cmd), ErrBadName)
	}
	name := strings.TrimSuffix(m[2], ".git")
	service, err = checkService(name)
	return m[1], service, err
}

// idRE is what a store ID looks like ("svc_" and base32); repository paths
// are made from IDs only after this check.
var idRE = regexp.MustCompile(`^[a-z]{2,8}_[a-z0-9]{8,40}$`)

func checkID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("service ID %q is not an ID", truncateName(id))
	}
	return nil
}

// hexRE is an object name (SHA-1 or SHA-256).
var hexRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// refUpdate is one line git gives pre-receive: "<old> <new> <ref>".
type refUpdate struct {
	Old, New, Ref string
}

func (u refUpdate) deletes() bool { return strings.Trim(u.New, "0") == "" }

// parseUpdates parses pre-receive's standard input. The ref is data: it is
// compared and printed, never passed to git.
func parseUpdates(lines []string) ([]refUpdate, error) {
	if len(lines) == 0 || len(lines) > 10_000 {
		return nil, fmt.Errorf("want 1 to 10000 ref updates, got %d", len(lines))
	}
	out := make([]refUpdate, 0, len(lines))
	for _, l := range lines {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 || !hexRE.MatchString(f[0]) || !hexRE.MatchString(f[1]) || len(f[0]) != len(f[1]) {
			return nil, fmt.Errorf("bad ref update %q", truncateName(l))
		}
		ref := f[2]
		if !strings.HasPrefix(ref, "refs/") || len(ref) > 1024 || strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("bad ref name %q", truncateName(ref))
		}
		out = append(out, refUpdate{Old: f[0], New: f[1], Ref: ref})
	}
	return out, nil
}
