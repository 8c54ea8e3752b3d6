package spec

import "time"

// Network is a private network that services join to reach databases and
// caches (App Runner's VPC connector). An internal network has no route to
// the outside world.
type Network struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"createdAt"`
}

// Validate returns every problem with the network.
func (n Network) Validate() error {
	var ps Problems
	if err := ValidateName(n.Name); err != nil {
		ps.Add("name", "%v", err)
	}
	return ps.Err()
}

// Domain states.
const (
	DomainPending  = "pending"
	DomainVerified = "verified"
)

// Domain is a custom hostname attached to a service. apprun asks for a
// certificate only once ownership is verified (a TXT record or an HTTP
// token holding VerifyToken).
type Domain struct {
	Name        string     `json:"name"`
	Service     string     `json:"service"`
	Status      string     `json:"status"`
	VerifyToken string     `json:"verifyToken"`
	CreatedAt   time.Time  `json:"createdAt"`
	VerifiedAt  *time.Time `json:"verifiedAt,omitempty"`
}

// Token is an API token. Only its hash is stored; the plain text is shown
// once, when it is created.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// SSHKey is a public key allowed to push over SSH.
type SSHKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string `json:"fingerprint"`
	// PublicKey is the key in authorized_keys form ("ssh-ed25519 AAAA…").
	PublicKey string    `json:"publicKey"`
	CreatedAt time.Time `json:"createdAt"`
}
