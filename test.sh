#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, go vet, staticcheck, every
# test with the race detector (tests that need Docker use the real engine),
# then each fuzz target for a short while.
#
#   ./test.sh                 everything
#   FUZZTIME=1m ./test.sh     fuzz longer
#   SKIP_FUZZ=1 ./test.sh     no fuzzing
set -euo pipefail
cd "$(dirname "$0")"

start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Tests that build images need the builder images. Make them first (a few
# minutes from an empty engine, seconds when they are up to date), so no
# test skips for want of them and the bootstrap's progress shows here.
if docker info >/dev/null 2>&1; then
  step "apprun builder bootstrap"
  go run ./cmd/apprun builder bootstrap --data-dir "${APPRUN_BOOTSTRAP_TEST_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/apprun/bootstrap-test}"
else
  echo "no Docker engine answers: tests that need one will skip"
fi

step "go test -race"
go test -race -count=1 -timeout 25m ./...

# fuzz_one runs one target for FUZZTIME. Go's fuzzing coordinator has a
# known race at the end of a -fuzztime window: under CPU load it can fail a
# target with "context deadline exceeded" having found nothing. A failure
# counts when the fuzzer wrote a failing input (or failed any other way); the
# bare deadline race is retried once, and a second one is only a warning.
fuzz_one() {
  local dir=$1 target=$2 corpus="$1/testdata/fuzz/$2" log before after attempt
  log=$(mktemp)
  before=$(ls "$corpus" 2>/dev/null | sort || true)
  for attempt in 1 2; do
    if go test -run='^$' -fuzz="^${target}\$" -fuzztime="${FUZZTIME:-10s}" "$dir" >"$log" 2>&1; then
      cat "$log"; rm -f "$log"; return 0
    fi
    cat "$log"
    after=$(ls "$corpus" 2>/dev/null | sort || true)
    if [ "$before" != "$after" ] || ! grep -q "context deadline exceeded" "$log" || grep -q "Failing input written" "$log"; then
      rm -f "$log"; return 1
    fi
    echo "fuzz: $target hit Go's -fuzztime deadline race with no failing input (attempt $attempt)"
  done
  rm -f "$log"
  echo "warning: $target hit the -fuzztime race twice and wrote no failing input; not counted as a failure"
}

if [ -z "${SKIP_FUZZ:-}" ]; then
  # Every Fuzz* target in the tree, each for FUZZTIME (the seed corpora
  # already ran above as ordinary tests).
  while read -r f; do
    dir=$(dirname "$f")
    for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
      step "fuzz $dir $target"
      fuzz_one "$dir" "$target"
    done
  done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
fi
step "all passed"
