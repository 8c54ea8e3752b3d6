// Package router is apprun's data plane: it routes app traffic by host to
// the ready instances of a service's revisions.
//
// The deployer publishes each service's routes (spec.ServiceRoutes) with
// Publish and Remove. The router keeps them in a map and builds an immutable
// routing table from it with a pure function (buildTable), swapped in with
// an atomic pointer, so requests read it without a lock; publishes that
// arrive during a build are folded into the next one (latest wins). The
// counters that must outlive a table (in-flight requests and failures per
// instance address, the queue and samples per revision) live apart from it
// and are bound to each new table.
//
// A request is matched on its normalised host (case, port and trailing dot
// do not matter), sent to a revision by weight, and to an instance by least
// outstanding requests (the power of two choices) under a hard limit per
// instance of the service's maxConcurrency. When no instance has a free slot
// (none is ready: scaled to zero or starting; or all are full) the request
// waits in a bounded per-revision queue, as in Knative's activator: the
// router pokes the deployer so it scales up at once, and the request goes on
// the moment a slot frees or a new table brings an instance; past the queue
// or the hold timeout it gets 503 with Retry-After, never a reset.
//
// Ordinary requests are proxied on a fast path (forward.go): on the
// handler's own goroutine, over a pooled keep-alive connection per
// instance, with the request head written by the router and the response
// read with http.ReadResponse. Upgrades (websockets), Expect:
// 100-continue, request trailers and anything the fast path does not write
// the transport's way go to httputil.ReverseProxy with Rewrite over a
// transport that keeps many idle connections per instance. Both send the
// same headers and answer failures alike. Forwarding headers are set by
// the router only: any the client sent, in any case or spelled with
// underscores, are dropped. A request whose connection failed before any of
// it was sent is retried once per other instance; one whose pooled
// connection the instance had closed is retried on a fresh one when
// nothing came back and it is safe to send again (net/http's rule). Streams are flushed as
// they come, websockets pass through, and each service has a request
// timeout and body limit. Every request is counted in per-second
// concurrency windows (Samples, for the autoscaler), Prometheus metrics and,
// if configured, a Combined Log Format access log.
//
// Serve runs an http.Server with bounded header size and header read time;
// Shutdown stops accepting and lets requests in flight, websockets and held
// requests included, finish until its context ends.
package router
