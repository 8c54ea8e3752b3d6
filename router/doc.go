// Package router is apprun's data plane: routing snapshots, the reverse
// proxy, least-outstanding balancing, the hold for cold starts, and the
// concurrency samples the autoscaler reads.
//
// It is filled in by the router issue; until then `apprun serve` answers
// app traffic with a placeholder that names the host it could not route.
package router
