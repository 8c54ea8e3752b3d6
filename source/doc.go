// Package source receives code: git push over smart HTTP and SSH, webhooks
// from GitHub, GitLab and Gitea, and checkouts in directories derived from
// IDs.
//
// It is filled in by the source issue.
package source
