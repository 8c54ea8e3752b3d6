package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/spec"
)

// Store is what pushes need of the store.
type Store interface {
	GetService(ctx context.Context, name string) (spec.Service, error)
	// VerifyToken checks an API token (the smart-HTTP password).
	VerifyToken(ctx context.Context, plain string) (spec.Token, error)
	// KeyByFingerprint finds an SSH key allowed to push.
	KeyByFingerprint(ctx context.Context, fingerprint string) (spec.SSHKey, error)
}

// Deployer deploys a checked-out commit, writing the build and rollout
// log to log. The error is non-nil when the deployment did not succeed.
type Deployer interface {
	DeployGit(ctx context.Context, service, dir string, src spec.DeploymentSource, log io.Writer) (spec.Deployment, error)
}

// Config configures the git server. DataDir, Store and Deployer are
// required.
type Config struct {
	// DataDir holds repos/, checkouts/, git/hooks/, run/git.sock and
	// ssh/host_ed25519_key.
	DataDir  string
	Store    Store
	Deployer Deployer
	// SSHAddr is where the SSH server listens; "" serves no SSH.
	SSHAddr string
	// ServiceURL, when set, gives the URL a push prints at its end.
	ServiceURL func(name string) string
	// Git is the git executable (default: "git" on PATH).
	Git string
	// Hook is the executable run as pre-receive (default: this process's
	// executable, whose main must call RunHook when IsHook says so).
	Hook string
}

// Server serves git pushes over smart HTTP (Handler) and SSH, and runs
// their deployments for the pre-receive hook over a unix socket.
type Server struct {
	cfg     Config
	log     *slog.Logger
	gitBin  string
	hookBin string
	path    string
	token   string
	hostKey ssh.Signer

	initMu sync.Mutex

	hookLn net.Listener
	sshLn  net.Listener
}

// New prepares the data directory (hooks link, host key) and binds the
// hook socket and the SSH address; Run serves them.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.DataDir == "" || cfg.Store == nil || cfg.Deployer == nil {
		return nil, errors.New("source: DataDir, Store and Deployer are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dataDir
	s := &Server{cfg: cfg, log: log, path: os.Getenv("PATH")}
	if s.path == "" {
		s.path = "/usr/local/bin:/usr/bin:/bin"
	}
	if s.gitBin = cfg.Git; s.gitBin == "" {
		if s.gitBin, err = exec.LookPath("git"); err != nil {
			return nil, fmt.Errorf("git push needs git installed: %w", err)
		}
	}
	if s.hookBin = cfg.Hook; s.hookBin == "" {
		if s.hookBin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the hook executable: %w", err)
		}
	}
	var tok [32]byte
	rand.Read(tok[:])
	s.token = hex.EncodeToString(tok[:])
	// Checkouts are removed after each deployment; what is left is from
	// a server that stopped in the middle of one.
	_ = os.RemoveAll(s.checkoutsDir())
	if err := s.linkHook(); err != nil {
		return nil, err
	}
	if s.hookLn, err = s.listenHook(); err != nil {
		return nil, err
	}
	if cfg.SSHAddr != "" {
		if s.hostKey, err = loadHostKey(filepath.Join(dataDir, "ssh", "host_ed25519_key")); err != nil {
			s.hookLn.Close()
			return nil, err
		}
		if s.sshLn, err = net.Listen("tcp", cfg.SSHAddr); err != nil {
			s.hookLn.Close()
			return nil, fmt.Errorf("git SSH address: %w", err)
		}
		// Users can check the fingerprint ssh shows on first connect.
		log.Info("git push over SSH", "addr", s.sshLn.Addr().String(), "host_key", ssh.FingerprintSHA256(s.hostKey.PublicKey()))
	}
	return s, nil
}

// SSHAddr is the address the SSH server is bound to ("" without SSH).
func (s *Server) SSHAddr() string {
	if s.sshLn == nil {
		return ""
	}
	return s.sshLn.Addr().String()
}

// Run serves the hook socket and SSH until ctx ends, then closes them and
// waits for the pushes in flight (their builds are cancelled).
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.serveHooks(ctx, s.hookLn) })
	if s.sshLn != nil {
		wg.Go(func() { s.serveSSH(ctx, s.sshLn) })
	}
	<-ctx.Done()
	s.hookLn.Close()
	if s.sshLn != nil {
		s.sshLn.Close()
	}
	wg.Wait()
	return nil
}

// Close releases the listeners of a server that is not Run.
func (s *Server) Close() error {
	err := s.hookLn.Close()
	if s.sshLn != nil {
		err = errors.Join(err, s.sshLn.Close())
	}
	return err
}
