package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealV1 is the version byte of the only scheme so far: AES-256-GCM with a
// random 96-bit nonce. A stored value is version || nonce || ciphertext+tag.
// Random nonces are safe for far more values than a platform will ever
// store under one key (NIST's limit is 2^32 per key).
const sealV1 byte = 1

// errDecrypt is what a tampered, moved or foreign ciphertext gives. It says
// nothing about why: GCM cannot tell, and must not be asked to.
var errDecrypt = errors.New("secret cannot be decrypted (wrong key, or the stored value was altered or moved)")

// secretBox seals and opens secret values.
type secretBox struct {
	aead        cipher.AEAD
	fingerprint string
}

func newSecretBox(key []byte) (*secretBox, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("loading secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("loading secrets key: %w", err)
	}
	return &secretBox{aead: aead, fingerprint: keyFingerprint(key)}, nil
}

// secretAD binds a ciphertext to its row: the same value sealed for another
// service or another name does not open here, so swapping ciphertexts in the
// database (by mistake or on purpose) is detected rather than obeyed. The
// service ID is used, not its name, because a rename must not invalidate
// the service's secrets. The version byte is bound too, so a value cannot be
// replayed under a later scheme. NUL separates the parts; neither an ID nor
// a secret name can contain one.
func secretAD(version byte, serviceID, name string) []byte {
	ad := make([]byte, 0, 32+len(serviceID)+len(name))
	ad = append(ad, "apprun secret\x00"...)
	ad = append(ad, version, 0)
	ad = append(ad, serviceID...)
	ad = append(ad, 0)
	ad = append(ad, name...)
	return ad
}

// seal encrypts the value of secret name of service serviceID.
func (b *secretBox) seal(serviceID, name, value string) []byte {
	ns := b.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(value)+b.aead.Overhead())
	out[0] = sealV1
	rand.Read(out[1 : 1+ns]) // never fails (it aborts the program instead)
	return b.aead.Seal(out, out[1:1+ns], []byte(value), secretAD(sealV1, serviceID, name))
}

// open decrypts what seal returned for the same service and name.
func (b *secretBox) open(serviceID, name string, stored []byte) (string, error) {
	if len(stored) == 0 {
		return "", errDecrypt
	}
	switch stored[0] {
	case sealV1:
		ns := b.aead.NonceSize()
		if len(stored) < 1+ns+b.aead.Overhead() {
			return "", errDecrypt
		}
		plain, err := b.aead.Open(nil, stored[1:1+ns], stored[1+ns:], secretAD(sealV1, serviceID, name))
		if err != nil {
			return "", errDecrypt
		}
		return string(plain), nil
	default:
		return "", fmt.Errorf("secret is sealed with scheme %d, which this apprun does not know (run a newer apprun)", stored[0])
	}
}
