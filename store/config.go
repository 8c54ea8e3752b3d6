package store

import (
	"errors"
	"strings"
)

// Config says where the store keeps its data.
type Config struct {
	// DataDir holds the database (apprun.db, with its -wal and -shm files)
	// and the secrets key (keys/secrets.key). It is created with mode 0700
	// if missing. Back up the two together: the secrets in the database
	// cannot be read without the key.
	DataDir string
}

// Validate reports why c cannot be opened.
func (c Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("store: data dir must be set")
	case strings.ContainsAny(c.DataDir, "?\x00"):
		// The SQLite driver splits its DSN at the first '?', so a path that
		// contains one would be cut short silently.
		return errors.New("store: data dir must not contain '?' or a NUL byte")
	}
	return nil
}
