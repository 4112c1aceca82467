#!/usr/bin/env bash
# Runs every fuzz target of the project for a while each (default 60s; FUZZTIME=5m for a soak).
# New findings are written by go test into the package's testdata/fuzz/ folder: commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-60s}
fail=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($t)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"; then
			fail=1
		fi
	done
done
exit $fail
