package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/spec"
)

// loadHostKey reads the SSH host key, making it (ed25519, 0600) on first
// start so that clients see the same key across restarts.
func loadHostKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("making the SSH directory: %w", err)
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := ssh.MarshalPrivateKey(priv, "apprun git host key")
		if err != nil {
			return nil, err
		}
		data = pem.EncodeToMemory(block)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("writing the SSH host key: %w", err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing the SSH host key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading the SSH host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("reading the SSH host key %s: %w", path, err)
	}
	return signer, nil
}

func (s *Server) sshConfig(ctx context.Context) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			fp := ssh.FingerprintSHA256(key)
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			k, err := s.cfg.Store.KeyByFingerprint(actx, fp)
			if err != nil {
				if !errors.Is(err, spec.ErrNotFound) {
					s.log.Error("ssh: looking up a key", "err", err)
				}
				return nil, errors.New("unknown key")
			}
			return &ssh.Permissions{Extensions: map[string]string{"key": k.ID, "key-name": k.Name}}, nil
		},
		ServerVersion: "SSH-2.0-apprun",
	}
	cfg.AddHostKey(s.hostKey)
	return cfg
}

func (s *Server) serveSSH(ctx context.Context, ln net.Listener) {
	cfg := s.sshConfig(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("ssh accept", "err", err)
			}
			return
		}
		wg.Go(func() { s.serveSSHConn(ctx, nc, cfg) })
	}
}

func (s *Server) serveSSHConn(ctx context.Context, nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	// A handshake that does not finish in time is dropped.
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		s.log.Debug("ssh handshake", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go ssh.DiscardRequests(reqs)
	log := s.log.With("remote", nc.RemoteAddr().String(), "key", conn.Permissions.Extensions["key"])
	var wg sync.WaitGroup
	defer wg.Wait()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only sessions are served")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer ch.Close()
			s.serveSession(ctx, ch, creqs, log)
		})
	}
}

// serveSession waits for the exec request and runs it; anything else (a
// shell, a pty, env, subsystems) is refused.
func (s *Server) serveSession(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			if req.Type == "shell" {
				fmt.Fprintln(ch.Stderr(), "apprun: no shell here; push with git (git push ssh://git@HOST:PORT/SERVICE.git)")
				sendExit(ch, 1)
				return
			}
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		code := s.runSSHCommand(ctx, ch, payload.Command, log)
		sendExit(ch, code)
		return
	}
}

func sendExit(ch ssh.Channel, code int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	_, _ = ch.SendRequest("exit-status", false, b[:])
}

func (s *Server) runSSHCommand(ctx context.Context, ch ssh.Channel, command string, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) int {
	verb, service, err := ParseSSHCommand(command)
	if err != nil {
		log.Warn("ssh: command refused", "err", err)
		fmt.Fprintf(ch.Stderr(), "apprun: %v\n", err)
		return 1
	}
	svc, err := s.cfg.Store.GetService(ctx, service)
	if err != nil {
		if errors.Is(err, spec.ErrNotFound) {
			fmt.Fprintf(ch.Stderr(), "apprun: no service %s: create it first (apprun services create %s)\n", service, service)
		} else {
			fmt.Fprintln(ch.Stderr(), "apprun: reading the service failed")
		}
		return 1
	}
	repo, err := s.ensureRepo(ctx, svc.ID, svc.Source.Branch)
	if err != nil {
		fmt.Fprintln(ch.Stderr(), "apprun: preparing the repository failed")
		return 1
	}
	log.Info("git ssh", "service", svc.Name, "op", verb)
	sub := "receive-pack"
	if verb == UploadPack {
		sub = "upload-pack"
	}
	// Argv, never a shell; the repository is named by ID.
	cmd := exec.CommandContext(ctx, s.gitBin, sub, "--", repo)
	cmd.Env = s.gitEnv(s.hookEnv(svc.Name, svc.ID)...)
	cmd.Dir = repo
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return ee.ExitCode()
	default:
		fmt.Fprintf(ch.Stderr(), "apprun: git %s: %v\n", sub, err)
		return 1
	}
}
