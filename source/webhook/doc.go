// Package webhook checks and reads the push webhooks of GitHub, GitLab and
// Gitea. It is pure: Verify and Parse take the request's headers and raw
// body and do no I/O, so the HTTP handler (in web) and the tests drive them
// alike.
//
// Verify always runs first, over the raw bytes exactly as received (never a
// re-encoding of parsed JSON), and compares in constant time. An empty
// secret is always a rejection: a service without a webhook secret accepts
// no webhook at all.
package webhook
