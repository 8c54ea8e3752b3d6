// Package traefikcfg exports apprun's routing table as Traefik v3 dynamic
// configuration, so a fleet of Traefik edges can front apprun: each edge
// polls GET /api/v1/traefik/config with its HTTP provider and routes
// straight to the instances.
//
// It is the only package that imports Traefik's dynamic-configuration types
// (github.com/traefik/traefik/v3/pkg/config/dynamic), and it is pure: Build
// turns the routes the deployer publishes (spec.ServiceRoutes) into a
// *dynamic.Configuration and Marshal turns that into the JSON the HTTP
// provider decodes. Nothing but routing goes out: hosts, revisions, weights
// and instance addresses. Service IDs, limits, environment and secrets are
// never read.
//
// # What is built
//
// For every service S (in name order) with revisions R1..Rn:
//
//   - one HTTP router, named <prefix>_<S>, whose rule is
//     Host(`S.<apps domain>`) || Host(`custom.example.com`) || ... with the
//     hosts sorted, on Options.EntryPoints (all entry points when empty),
//     with TLS when Options.TLS or Options.CertResolver is set;
//   - one weighted (WRR) service, named <prefix>_<S>, over the revisions
//     that take traffic, each with its weight, or weight 1 each when every
//     published weight is 0 (an equal split, as apprun's router does). A
//     revision with weight 0 beside non-zero ones takes no traffic and is
//     left out of the weighted service. When no revision takes traffic the
//     service is instead an empty loadBalancer, which answers 503 (Traefik
//     refuses an empty weighted service);
//   - one loadBalancer service per revision, named <prefix>_<S>_<R>, with
//     the servers http://<instance> in published order, passHostHeader true
//     and the p2c (power of two choices) strategy, the one apprun's router
//     uses.
//
// With no routes at all the configuration is {} (Traefik's decoder refuses
// an empty {"http":{}}).
//
// Hosts are assigned as apprun's router assigns them: S.<apps domain>
// always belongs to S; a custom domain claimed by several services goes to
// the first in name order, and a custom domain that is another service's
// default host goes to that service. So no host is in two rules.
//
// # Names
//
// Traefik names may not hold '@' (the provider separator) and should not
// hold '.', so names are built from parts that hold neither, joined with
// '_'. The prefix (Options.Prefix, default "apprun") is [a-z0-9-] and
// service names are DNS labels, so neither holds '_': the first '_' ends the
// prefix and the second ends the service. A revision ID is written with
// every byte outside [A-Za-z0-9_] as '-' and two lowercase hex digits
// ('-' itself becomes "-2d"), so the encoding is one-to-one: store IDs such
// as rev_k5xq2m7c4hzp3r6wyt2a come out unchanged, as in
// apprun_web_rev_k5xq2m7c4hzp3r6wyt2a. Routers and services live in
// separate namespaces in Traefik, so a router and its weighted service share
// a name. Distinct services, revisions and prefixes never share one.
//
// # What is refused
//
// Build re-checks what it is given even though the router validated it:
// a service whose name is not a DNS label, or that is listed twice, is left
// out; so is a custom domain that is not a valid hostname, and an instance
// that is not host:port with a hostname or IP address and a port in
// 1..65535. Options.Skip, when set, is told about each. Every host that
// reaches a rule is a validated DNS name, so it cannot hold a backquote and
// is written as a raw `string`.
//
// # Differences from apprun's own router
//
// Traefik cannot hold a request while a revision scales from zero: a
// revision with no instances answers 503 at the edge where apprun would
// wait. Per-service request timeouts, body limits and concurrency limits are
// not exported; the edges use their own settings.
package traefikcfg
