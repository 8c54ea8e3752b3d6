package store

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/apprun/apprun/spec"
)

func TestSecretUpdates(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateService(ctx, spec.NewService("web"), map[string]string{"C": "3", "A": "1", "B": "2"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		u    ServiceUpdate
		want map[string]string
	}{
		{"set adds and replaces", ServiceUpdate{SetSecrets: map[string]string{"A": "one", "D": "4"}},
			map[string]string{"A": "one", "B": "2", "C": "3", "D": "4"}},
		{"unset removes, ignores unknown", ServiceUpdate{UnsetSecrets: []string{"B", "NOPE"}},
			map[string]string{"A": "one", "C": "3", "D": "4"}},
		{"unset then set: set wins", ServiceUpdate{UnsetSecrets: []string{"C"}, SetSecrets: map[string]string{"C": "three"}},
			map[string]string{"A": "one", "C": "three", "D": "4"}},
		{"replace keeps only what is set", ServiceUpdate{ReplaceSecrets: true, SetSecrets: map[string]string{"D": "four", "E": "5"}},
			map[string]string{"D": "four", "E": "5"}},
		{"empty values are values", ServiceUpdate{SetSecrets: map[string]string{"EMPTY": ""}},
			map[string]string{"D": "four", "E": "5", "EMPTY": ""}},
		{"replace with nothing clears", ServiceUpdate{ReplaceSecrets: true},
			map[string]string{}},
	}
	for _, st := range steps {
		svc, err := s.UpdateService(ctx, "web", st.u)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.ServiceSecrets(ctx, "web")
		if err != nil {
			t.Fatalf("%s: ServiceSecrets: %v", st.name, err)
		}
		deepEqual(t, st.name, got, st.want)
		names := sortedKeys(st.want)
		if len(names) == 0 {
			names = nil // a service without secrets has no SecretNames
		}
		deepEqual(t, st.name+": SecretNames", svc.SecretNames, names)
	}
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	s, dir := newStore(t)
	ctx := t.Context()
	const plain = "correct-horse-battery-staple"
	svc, err := s.CreateService(ctx, spec.NewService("web"), map[string]string{"A": plain, "B": plain})
	if err != nil {
		t.Fatal(err)
	}
	var a, b []byte
	if err := s.r.QueryRowContext(ctx, `SELECT ciphertext FROM secrets WHERE service_id = ? AND name = 'A'`, svc.ID).Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT ciphertext FROM secrets WHERE service_id = ? AND name = 'B'`, svc.ID).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a, []byte(plain)) || bytes.Contains(a, []byte("horse")) {
		t.Errorf("the stored value contains the plain text")
	}
	if a[0] != sealV1 || len(a) != 1+12+len(plain)+16 {
		t.Errorf("stored value is %d bytes with version %d, want %d bytes with version %d", len(a), a[0], 1+12+len(plain)+16, sealV1)
	}
	if bytes.Equal(a, b) {
		t.Errorf("the same value sealed twice gives the same bytes: nonces repeat")
	}
	// Nothing in the database file holds the plain text either (the WAL
	// is checkpointed into it on close).
	s.Close()
	for _, f := range []string{DBFile, DBFile + "-wal"} {
		raw, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(raw, []byte("horse")) {
			t.Errorf("%s contains the plain text", f)
		}
	}
}

// TestSecretsBoundToRow moves ciphertexts between rows, as a tampering
// database administrator (or a bad migration) would: each must refuse to
// decrypt rather than hand one service's secret to another.
func TestSecretsBoundToRow(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	web, err := s.CreateService(ctx, spec.NewService("web"), map[string]string{"DB_PASSWORD": "web-pw", "API_KEY": "web-key"})
	if err != nil {
		t.Fatal(err)
	}
	api, err := s.CreateService(ctx, spec.NewService("api"), map[string]string{"DB_PASSWORD": "api-pw"})
	if err != nil {
		t.Fatal(err)
	}
	read := func(id, name string) []byte {
		var c []byte
		if err := s.r.QueryRowContext(ctx, `SELECT ciphertext FROM secrets WHERE service_id = ? AND name = ?`, id, name).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	put := func(id, name string, c []byte) {
		rawExec(t, s, `UPDATE secrets SET ciphertext = ? WHERE service_id = ? AND name = ?`, c, id, name)
	}
	webPW, apiPW, webKey := read(web.ID, "DB_PASSWORD"), read(api.ID, "DB_PASSWORD"), read(web.ID, "API_KEY")

	// Across services, same name.
	put(web.ID, "DB_PASSWORD", apiPW)
	put(api.ID, "DB_PASSWORD", webPW)
	for _, name := range []string{"web", "api"} {
		_, err := s.ServiceSecrets(ctx, name)
		wantErr(t, err, nil, "cannot be decrypted", "DB_PASSWORD")
	}
	put(web.ID, "DB_PASSWORD", webPW)
	put(api.ID, "DB_PASSWORD", apiPW)

	// Within a service, across names.
	put(web.ID, "DB_PASSWORD", webKey)
	_, err = s.ServiceSecrets(ctx, "web")
	wantErr(t, err, nil, "cannot be decrypted")
	put(web.ID, "DB_PASSWORD", webPW)

	// A flipped bit, a truncation, an unknown version.
	flipped := bytes.Clone(webPW)
	flipped[len(flipped)-1] ^= 1
	for what, c := range map[string][]byte{"flipped": flipped, "truncated": webPW[:10], "empty": {}} {
		put(web.ID, "DB_PASSWORD", c)
		if _, err := s.ServiceSecrets(ctx, "web"); err == nil {
			t.Errorf("%s ciphertext decrypted", what)
		}
	}
	future := bytes.Clone(webPW)
	future[0] = 9
	put(web.ID, "DB_PASSWORD", future)
	_, err = s.ServiceSecrets(ctx, "web")
	wantErr(t, err, nil, "scheme 9")

	// Restored, everything reads again.
	put(web.ID, "DB_PASSWORD", webPW)
	got, err := s.ServiceSecrets(ctx, "web")
	if err != nil || got["DB_PASSWORD"] != "web-pw" || got["API_KEY"] != "web-key" {
		t.Errorf("after restoring: %v, %v", got, err)
	}
}

func TestSecretsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	if _, err := s.CreateService(t.Context(), spec.NewService("web"), map[string]string{"K": "v\n with newline and ✓"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, dir)
	got, err := s.ServiceSecrets(t.Context(), "web")
	if err != nil || got["K"] != "v\n with newline and ✓" {
		t.Errorf("after reopen: %q, %v", got, err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	if _, err := s.CreateService(t.Context(), spec.NewService("web"), map[string]string{"K": "v"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	keyPath := filepath.Join(dir, KeysDir, KeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != keySize {
		t.Errorf("key file: mode %v, %d bytes; want 0600, %d", fi.Mode().Perm(), fi.Size(), keySize)
	}
	if di, _ := os.Stat(filepath.Dir(keyPath)); di.Mode().Perm() != 0o700 {
		t.Errorf("keys dir mode %v, want 0700", di.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(keyPath)); len(entries) != 1 {
		t.Errorf("keys dir holds %d entries, want only the key (no temporary file left)", len(entries))
	}
	key, _ := os.ReadFile(keyPath)

	open := func() error {
		s, err := Open(t.Context(), Config{DataDir: dir}, testLogger(t))
		if err == nil {
			s.Close()
		}
		return err
	}
	refuse := func(fragments ...string) {
		t.Helper()
		wantErr(t, open(), nil, fragments...)
	}

	os.Chmod(keyPath, 0o644)
	refuse("mode 0644", "chmod 600")
	os.Chmod(keyPath, 0o600)

	os.Chmod(filepath.Dir(keyPath), 0o755)
	refuse("keys dir", "chmod 700")
	os.Chmod(filepath.Dir(keyPath), 0o700)

	os.WriteFile(keyPath, key[:16], 0o600)
	refuse("16 bytes, want 32")

	other := make([]byte, keySize)
	rand.Read(other)
	os.WriteFile(keyPath, other, 0o600)
	refuse("not the key this database's secrets are encrypted with")

	// A lost key is not replaced by a new one: that would make every
	// stored secret unreadable, silently.
	os.Remove(keyPath)
	refuse("is missing", "restore")
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Errorf("a missing key was recreated")
	}

	os.WriteFile(keyPath, key, 0o600)
	if err := open(); err != nil {
		t.Fatalf("with the right key back: %v", err)
	}
}
