// Package web is apprun's HTTP front door: the JSON API under /api/v1, its
// OpenAPI document, and the probes and metrics that operators scrape.
//
// Every way of changing apprun (the CLI, git push, webhooks, the dashboard)
// goes through the operations served here, so this package owns the rules
// that keep a request from doing harm at the edge:
//
//   - bodies are bounded (Config.BodyLimit) and decoded strictly: an unknown
//     field, a wrong JSON type or trailing data is a 400 that names the field,
//     never a silent default;
//   - validation runs before the store is touched and reports every problem at
//     once (spec.Problems → 422), so a client fixes a request in one round trip;
//   - every route except the probes, /metrics and the OpenAPI document needs a
//     bearer token checked with store.VerifyToken;
//   - secret values go in and never come out: responses carry secret names only;
//   - one echo HTTPErrorHandler turns every error into the same JSON shape,
//     {"error":{"code","message","field","problems"}}, and keeps internal
//     details in the log.
//
// Long operations (builds, deployments, rollbacks, following logs) answer
// with NDJSON streams (stream.go): everything refusable is refused with an
// ordinary JSON error before the 200, and a failure after it is the
// stream's last line.
//
// Custom domains (domains.go) are attached pending and verified on request:
// the DomainVerifier the composition root supplies checks the TXT record or
// the HTTP token whose names VerifyTXTName and VerifyHTTPURL define, and a
// failed check is a 422 (code verification_failed) saying what it found.
//
// The package depends on the store.Store interface, the spec domain and the
// small interfaces it declares for what it does not own (Builder, Deployer,
// TraefikConfig, DomainVerifier, Certificates); cmd/apprun wires in the
// concrete types.
package web
