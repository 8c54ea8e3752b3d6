// Package tls owns apprun's certificates: it is the only importer of
// certmagic. A Manager serves the router's HTTPS listener (TLSConfig) and
// the port-80 side (HTTPHandler: ACME HTTP-01 challenges, otherwise a 308
// redirect to HTTPS), and keeps certificates for the names the platform
// knows.
//
// Certificates come from one issuer: an ACME CA (Let's Encrypt, or any RFC
// 8555 server) when Config.ACME is set, otherwise a local CA created on
// first use in DataDir/ca, so that https works offline on a laptop (`apprun
// ca cert` prints its root for the trust store). Both sit behind certmagic,
// so storage (DataDir/certs, shared by processes through its file locks),
// renewal and on-demand issuance work the same way for either.
//
// Names come in two ways. Manage is given the set of names the platform
// knows (each service's name under the apps domain, verified custom
// domains): those certificates are obtained at once and renewed in the
// background when 40 % of their lifetime is left (so that renewal starts
// with at least a third left),
// because certmagic never renews on-demand certificates except during a
// handshake. A handshake for any other name is on-demand: Config.Allowed is
// asked first, and a refused name fails the handshake without an ACME order
// or a local-CA issuance. A name whose issuance failed waits out a back-off
// before the CA is asked again, however many handshakes arrive meanwhile.
//
// A renewal that fails is retried on a back-off no longer than a thirtieth
// of the certificate's lifetime (certmagic's own schedule waits a minute or
// more, which is too slow for short-lived certificates), and the served
// certificate stays in use until it expires, so an ACME outage of half a
// lifetime expires nothing. Status and the metrics
// apprun_certificate_expiry_seconds and
// apprun_certificate_renewal_failures_total show what is happening, with a
// warning (also logged, rate-limited) once a certificate is in its renewal
// window and its last renewal failed.
//
// certmagic logs through zap; its records are passed to the Config's
// slog.Logger (its Info records at Debug level: the Manager logs issuance
// and failures itself).
package tls
