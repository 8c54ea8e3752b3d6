package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Where the secrets key lives, relative to the data dir. It is outside the
// database so that a copy of apprun.db alone reveals no secret.
const (
	KeysDir = "keys"
	KeyFile = "secrets.key"
	keySize = 32 // AES-256
)

// keyCheckMeta is the meta row holding the fingerprint of the key the
// database's secrets are encrypted with.
const keyCheckMeta = "secrets_key_check"

// loadKeys loads the secrets key, or creates it on first start, and checks
// it against the fingerprint recorded in the database. A missing key is
// created only when the database has never had one: otherwise a lost key
// file would be silently replaced and every stored secret would become
// unreadable at the next deploy, far from the cause.
func (s *SQLite) loadKeys(ctx context.Context, dataDir string) (*secretBox, error) {
	dir := filepath.Join(dataDir, KeysDir)
	path := filepath.Join(dir, KeyFile)
	var recorded string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, keyCheckMeta).Scan(&recorded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading the secrets key fingerprint: %w", err)
	}
	key, err := readKey(dir, path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && recorded != "":
		return nil, fmt.Errorf("secrets key %s is missing, but this database's secrets are encrypted with key %s: restore the key file from the backup made with the database (a new key could not read them)", path, recorded)
	case errors.Is(err, fs.ErrNotExist):
		if key, err = createKey(dir, path); err != nil {
			return nil, err
		}
		s.log.Warn("created a new secrets key; back it up with the database", "path", path)
	case err != nil:
		return nil, err
	}
	box, err := newSecretBox(key)
	if err != nil {
		return nil, err
	}
	switch {
	case recorded == box.fingerprint:
		return box, nil
	case recorded != "":
		return nil, fmt.Errorf("secrets key %s (fingerprint %s) is not the key this database's secrets are encrypted with (%s): restore the matching key file", path, box.fingerprint, recorded)
	}
	// First start, or a key created before by a start that did not get
	// this far. INSERT OR IGNORE plus the re-read settles a race with
	// another process starting on the same data dir.
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`, keyCheckMeta, box.fingerprint); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, keyCheckMeta).Scan(&recorded)
	})
	if err != nil {
		return nil, fmt.Errorf("recording the secrets key fingerprint: %w", err)
	}
	if recorded != box.fingerprint {
		return nil, fmt.Errorf("secrets key %s (fingerprint %s) is not the key this database's secrets are encrypted with (%s): restore the matching key file", path, box.fingerprint, recorded)
	}
	return box, nil
}

// readKey reads the key file, refusing one that others could read or that
// is not a key.
func readKey(dir, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("opening secrets key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading secrets key: %w", err)
	}
	if err := checkPrivate(dir, path, fi.Mode()); err != nil {
		return nil, err
	}
	if fi.Size() != keySize {
		return nil, fmt.Errorf("secrets key %s is %d bytes, want %d: it is not an apprun key (restore it from backup)", path, fi.Size(), keySize)
	}
	key := make([]byte, keySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("reading secrets key %s: %w", path, err)
	}
	return key, nil
}

// checkPrivate refuses a key file, or a keys directory, that anyone but the
// owner may read or write, the way ssh refuses a private key.
func checkPrivate(dir, path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil // permission bits mean nothing there
	}
	if !mode.IsRegular() {
		return fmt.Errorf("secrets key %s is not a regular file", path)
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("secrets key %s has mode %#o: it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("checking keys dir: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keys dir %s has mode %#o: it must be accessible to its owner only (chmod 700 %s)", dir, perm, dir)
	}
	return nil
}

// createKey writes a new random key so that it is either complete or absent
// after a crash: a temporary file, fsynced, then linked into place and the
// directory fsynced. A link, unlike a rename, never replaces a key that
// another process created in the meantime; that key is read instead.
func createKey(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating keys dir: %w", err)
	}
	key := make([]byte, keySize)
	rand.Read(key) // never fails (it aborts the program instead)

	// CreateTemp makes the file with mode 0600.
	tmp, err := os.CreateTemp(dir, KeyFile+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("creating secrets key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing secrets key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(dir, path)
		}
		return nil, fmt.Errorf("installing secrets key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("installing secrets key: %w", err)
	}
	return key, nil
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// keyFingerprint identifies a key without revealing it: a hash of the key
// under a label of its own, so it is useless for anything else.
func keyFingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("apprun secrets key fingerprint v1\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}
