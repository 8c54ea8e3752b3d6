// Package source receives code: git push over smart HTTP and SSH (this
// file's siblings), webhooks from GitHub, GitLab and Gitea (source/webhook),
// and checkouts in directories derived from IDs.
//
// A push lands in a bare repository at <data>/repos/<service ID>.git, made
// on first push. Smart HTTP is the real `git http-backend` behind
// net/http/cgi, authenticated with an API token as the basic-auth password;
// SSH is golang.org/x/crypto/ssh with the store's public keys, allowing
// only git-receive-pack and git-upload-pack on a known service, run with
// exec argv (never a shell).
//
// Deploying is done in git's pre-receive hook, so that the deploy branch
// moves only when the deployment succeeded (Heroku's behaviour). Every
// repository runs hooks from <data>/git/hooks (core.hooksPath, passed in
// the environment, never read from user data), where pre-receive is a
// symlink to the running apprun executable. Run as that hook, apprun
// (RunHook) sends the ref updates and git's quarantine directories over a
// unix socket to the server, with a random token the server put in git's
// environment; the server exports the pushed commit with `git archive`,
// unpacks it safely into <data>/checkouts/<random ID>, deploys it through
// the Deployer interface and streams the build and rollout log back, which
// git relays to the pusher as "remote:" lines. The hook exits 0 or 1 as
// the deployment went.
package source
