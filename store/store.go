package store

import (
	"context"

	"github.com/apprun/apprun/spec"
)

// Store is everything the control plane persists. It is written in terms of
// the domain (spec) only, so that a PostgreSQL implementation can follow the
// SQLite one without any caller changing.
//
// Errors: a missing object wraps spec.ErrNotFound; a duplicate name or a
// broken cross-object invariant (a network still in use, a domain attached
// to another service) wraps spec.ErrConflict; invalid input is a
// spec.Problems naming each field at fault. A method that fails changes
// nothing.
type Store interface {
	Services
	Networks
	Deployments
	Tokens
	Keys
	Webhooks
	// Ping reports whether the store can serve (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Services stores services and their secrets.
type Services interface {
	// CreateService validates svc, assigns its ID and timestamps, and stores
	// it with its secrets (encrypted) in one transaction.
	CreateService(ctx context.Context, svc spec.Service, secrets map[string]string) (spec.Service, error)
	GetService(ctx context.Context, name string) (spec.Service, error)
	// ListServices returns every service, ordered by name.
	ListServices(ctx context.Context) ([]spec.Service, error)
	// UpdateService applies u to the named service in one write transaction
	// (BEGIN IMMEDIATE): the mutation sees the current row, the result is
	// validated, and nothing is written when anything fails.
	UpdateService(ctx context.Context, name string, u ServiceUpdate) (spec.Service, error)
	// DeleteService removes the service, its secrets, domains, deployments
	// and revisions.
	DeleteService(ctx context.Context, name string) error
	// ServiceSecrets returns the decrypted secrets of a service, for the
	// deployer to inject at start. Never expose the result through the API.
	ServiceSecrets(ctx context.Context, name string) (map[string]string, error)
	// ListDomains returns the custom domains of every service (service ""),
	// or of one service.
	ListDomains(ctx context.Context, service string) ([]spec.Domain, error)
	// GetDomain returns the custom domain called name, whichever service
	// it is attached to.
	GetDomain(ctx context.Context, name string) (spec.Domain, error)
	// AddDomain attaches a custom domain to a service (appended to its
	// Domains, as UpdateService would) as pending, with a fresh token.
	AddDomain(ctx context.Context, service, name string) (spec.Domain, error)
	// RemoveDomain detaches a custom domain from a service.
	RemoveDomain(ctx context.Context, service, name string) error
	// VerifyDomain marks a pending domain verified (VerifiedAt now); a
	// verified one is returned as is.
	VerifyDomain(ctx context.Context, name string) (spec.Domain, error)
}

// ServiceUpdate is one change to a service. Mutate (optional) edits the
// service in place; its error aborts the update and is returned as is.
// Secrets are applied after: UnsetSecrets removes names (unknown names are
// ignored), SetSecrets adds or replaces values, and ReplaceSecrets first
// removes every secret not in SetSecrets.
type ServiceUpdate struct {
	Mutate         func(*spec.Service) error
	SetSecrets     map[string]string
	UnsetSecrets   []string
	ReplaceSecrets bool
}

// Networks stores private networks.
type Networks interface {
	CreateNetwork(ctx context.Context, n spec.Network) (spec.Network, error)
	GetNetwork(ctx context.Context, name string) (spec.Network, error)
	ListNetworks(ctx context.Context) ([]spec.Network, error)
	// DeleteNetwork fails with spec.ErrConflict while a service uses it.
	DeleteNetwork(ctx context.Context, name string) error
}

// Deployments stores deployments and revisions. Until the deployer exists
// they are only listed; the methods that write them are here so the state
// machine is enforced in one place.
type Deployments interface {
	// CreateDeployment records a queued deployment of the named service.
	CreateDeployment(ctx context.Context, service string, src spec.DeploymentSource) (spec.Deployment, error)
	// TransitionDeployment moves a deployment to state to (checked with
	// spec.DeploymentState.CheckTransition) and records reason; it sets
	// FinishedAt on a final state.
	TransitionDeployment(ctx context.Context, id string, to spec.DeploymentState, reason string) (spec.Deployment, error)
	// SetDeploymentRevision records the revision a deployment deploys.
	SetDeploymentRevision(ctx context.Context, deploymentID, revisionID string) error
	GetDeployment(ctx context.Context, service, id string) (spec.Deployment, error)
	// ListDeployments returns a service's deployments, newest first.
	ListDeployments(ctx context.Context, service string) ([]spec.Deployment, error)
	// CreateRevision records an immutable revision; its Number is assigned.
	CreateRevision(ctx context.Context, rev spec.Revision) (spec.Revision, error)
	GetRevision(ctx context.Context, service, id string) (spec.Revision, error)
	// ListRevisions returns a service's revisions, newest first.
	ListRevisions(ctx context.Context, service string) ([]spec.Revision, error)
}

// Tokens stores API tokens, hashed.
type Tokens interface {
	// CreateToken makes a new token and returns its plain text (shown once;
	// only a hash is kept).
	CreateToken(ctx context.Context, name string) (plain string, tok spec.Token, err error)
	// VerifyToken returns the token whose plain text is plain, or an error
	// wrapping spec.ErrUnauthorized.
	VerifyToken(ctx context.Context, plain string) (spec.Token, error)
	ListTokens(ctx context.Context) ([]spec.Token, error)
	DeleteToken(ctx context.Context, id string) error
	// CountTokens tells `apprun serve` whether this is a first start.
	CountTokens(ctx context.Context) (int, error)
}
