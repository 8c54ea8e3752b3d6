package store

import (
	"crypto/rand"
	"encoding/base32"
)

// ID prefixes say what an ID names, in logs and in support requests.
const (
	prefixService    = "svc_"
	prefixNetwork    = "net_"
	prefixDeployment = "dep_"
	prefixRevision   = "rev_"
	prefixToken      = "tok_"
	prefixKey        = "key_"
)

// lowerBase32 is RFC 4648 base32 in lowercase without padding: letters and
// digits only, so an ID is safe in a file path, a container name or label,
// and (after the prefix's '_') needs no quoting anywhere.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// idChars is the random part of an ID: 20 characters, 100 bits, enough that
// IDs never collide without asking the database.
const idChars = 20

// newID returns a random ID such as svc_k5xq2m7c4hzp3r6wyt2a.
func newID(prefix string) string {
	// 104 random bits, cut to 100 by taking 20 characters. rand.Read never
	// fails: it aborts the program instead.
	var b [13]byte
	rand.Read(b[:])
	return prefix + lowerBase32.EncodeToString(b[:])[:idChars]
}

// randomToken returns n random bytes in lowerBase32.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return lowerBase32.EncodeToString(b)
}
