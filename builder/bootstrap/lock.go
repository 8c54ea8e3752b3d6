package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockDir takes an exclusive lock on dir/lock, waiting for another run on
// the same data dir to finish, and returns the function that releases it.
// flock is released by the kernel when the process dies, so a crashed run
// leaves no stale lock.
func lockDir(ctx context.Context, dir string, log *slog.Logger) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the bootstrap lock: %w", err)
	}
	release := func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("taking the bootstrap lock: %w", err)
		}
		if !logged {
			log.Info("waiting for another bootstrap on this data dir", "dir", dir)
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the bootstrap lock: %w", context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeScratch removes the scratch dirs of earlier runs that were killed
// before they could clean up. Only call it holding the lock.
func removeScratch(dir string, log *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "tmp-") {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				log.Warn("removing an old scratch dir", "dir", e.Name(), "err", err)
			}
		}
	}
}
