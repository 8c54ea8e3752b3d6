package web

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/spec"
)

// keyInput is the body of POST /api/v1/keys.
type keyInput struct {
	// Name says whose key it is ("laptop"); default: the key's comment.
	Name string `json:"name,omitempty"`
	// PublicKey is one key in authorized_keys form ("ssh-ed25519 AAAA…
	// comment"), without options.
	PublicKey string `json:"publicKey"`
}

// parseKey checks a public key and returns it normalised (type and
// base64, one line), its SHA256 fingerprint and its comment. Options
// (command="…"), several keys, DSA keys and RSA keys under 2048 bits are
// refused.
func parseKey(text string) (line, fingerprint, comment string, err error) {
	bad := func(format string, args ...any) error {
		var ps spec.Problems
		ps.Add("publicKey", format, args...)
		return ps.Err()
	}
	text = strings.TrimSpace(text)
	if text == "" || strings.ContainsAny(text, "\r\n") {
		return "", "", "", bad("must be one public key in authorized_keys form (the .pub file's one line)")
	}
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	switch {
	case err != nil:
		return "", "", "", bad("is not an SSH public key in authorized_keys form (the .pub file's one line)")
	case len(options) > 0:
		return "", "", "", bad("must not carry options such as command=")
	case len(strings.TrimSpace(string(rest))) > 0:
		return "", "", "", bad("must be one key")
	case pk.Type() == "ssh-dss":
		return "", "", "", bad("DSA keys are not accepted; use ed25519")
	}
	if ck, ok := pk.(ssh.CryptoPublicKey); ok {
		if r, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < 2048 {
			return "", "", "", bad("RSA keys must have at least 2048 bits, this one has %d", r.N.BitLen())
		}
	}
	line = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	return line, ssh.FingerprintSHA256(pk), comment, nil
}

func (s *Server) listKeys(c echo.Context) error {
	ks, err := s.st.ListKeys(c.Request().Context())
	if err != nil {
		return err
	}
	if ks == nil {
		ks = []spec.SSHKey{}
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": ks})
}

func (s *Server) addKey(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	var in keyInput
	if err := decodeJSON(data, &in); err != nil {
		return err
	}
	line, fp, comment, err := parseKey(in.PublicKey)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = strings.TrimSpace(comment)
	}
	if name == "" {
		name = "key"
	}
	if err := (tokenInput{Name: name}).validate(); err != nil || strings.ContainsFunc(name, unicode.IsControl) {
		var ps spec.Problems
		ps.Add("name", "must be 1 to %d characters without control characters", maxTokenName)
		return ps.Err()
	}
	k, err := s.st.AddKey(c.Request().Context(), spec.SSHKey{Name: name, Fingerprint: fp, PublicKey: line})
	if err != nil {
		return err
	}
	if who, ok := caller(c); ok {
		s.log.Info("ssh key added", "id", k.ID, "fingerprint", k.Fingerprint, "by", who.ID)
	}
	return c.JSON(http.StatusCreated, k)
}

func (s *Server) deleteKey(c echo.Context) error {
	id, err := idParam(c, "key")
	if err != nil {
		return err
	}
	if err := s.st.DeleteKey(c.Request().Context(), id); err != nil {
		return err
	}
	if who, ok := caller(c); ok {
		s.log.Info("ssh key deleted", "id", id, "by", who.ID)
	}
	return c.NoContent(http.StatusNoContent)
}
