package web

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/spec"
)

func authorizedKey(t *testing.T, key any) string {
	t.Helper()
	pk, err := ssh.NewPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

func TestKeysAddListDelete(t *testing.T) {
	e := newTestEnv(t, Config{})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	line := authorizedKey(t, pub)
	pk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(line))

	var k spec.SSHKey
	e.must(http.StatusCreated, "POST", "/api/v1/keys", map[string]string{"publicKey": line + " me@laptop"}).decode(t, &k)
	if k.Name != "me@laptop" || k.Fingerprint != ssh.FingerprintSHA256(pk) || k.PublicKey != line || !strings.HasPrefix(k.ID, "key_") {
		t.Errorf("added %+v", k)
	}
	// The same key again is a conflict, whatever its name.
	res := e.do("POST", "/api/v1/keys", map[string]string{"name": "again", "publicKey": line})
	if res.status != http.StatusConflict {
		t.Errorf("duplicate key: %d %s", res.status, res.body)
	}
	var list struct{ Keys []spec.SSHKey }
	e.must(http.StatusOK, "GET", "/api/v1/keys", nil).decode(t, &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != k.ID {
		t.Errorf("list %+v", list)
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/keys/"+k.ID, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/keys/"+k.ID, nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/keys/..", nil)
}

func TestKeysRefuseWhatIsNotOnePublicKey(t *testing.T) {
	e := newTestEnv(t, Config{})
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good := authorizedKey(t, pub)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// A DSA key in wire form: only the parameters' sizes are checked when
	// it is parsed.
	one := big.NewInt(1)
	dss := ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{"ssh-dss", new(big.Int).Add(new(big.Int).Lsh(one, 1023), one), new(big.Int).Add(new(big.Int).Lsh(one, 159), one), big.NewInt(2), big.NewInt(3)})
	block, _ := ssh.MarshalPrivateKey(priv, "")
	for name, key := range map[string]string{
		"empty":        "",
		"garbage":      "hello",
		"options":      `command="touch /tmp/x" ` + good,
		"two keys":     good + "\n" + good,
		"truncated":    good[:len(good)-8],
		"private key":  string(block.Bytes),
		"small rsa":    authorizedKey(t, &small.PublicKey),
		"dsa":          "ssh-dss " + base64.StdEncoding.EncodeToString(dss),
		"type only":    "ssh-ed25519",
		"wrong type":   strings.Replace(good, "ssh-ed25519", "ssh-rsa", 1),
		"nul":          good + "\x00",
		"cert garbage": "ssh-ed25519-cert-v01@openssh.com AAAA",
	} {
		res := e.do("POST", "/api/v1/keys", map[string]string{"publicKey": key})
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, res.status, res.body)
			continue
		}
		if f := res.errBody(t).Problems; len(f) == 0 || f[0].Field != "publicKey" {
			t.Errorf("%s: problems %+v", name, f)
		}
	}
	res := e.do("POST", "/api/v1/keys", map[string]string{"publicKey": good, "name": strings.Repeat("n", 101)})
	if res.status != http.StatusUnprocessableEntity {
		t.Errorf("long name: %d %s", res.status, res.body)
	}
	res = e.do("POST", "/api/v1/keys", `{"publicKey":"`+good+`","admin":true}`)
	if res.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s", res.status, res.body)
	}
}
