#!/usr/bin/env bash
# Crash soak: the kill -9 tests of cmd/sealgate with many more kills than .ci/run uses
# (SEALGATE_CRASH_ROUNDS, default 50): concurrent SMTP (MX and submission to a remote domain),
# IMAP expunges, and outbound delivery, while the real binary is killed at random moments.
# Prints kills, acknowledged, expunged, lost and duplicated counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export SEALGATE_CRASH_ROUNDS=${SEALGATE_CRASH_ROUNDS:-50}
go test -count=1 -timeout 60m -v -run 'Kill9' ./cmd/sealgate/ | grep -E 'kills|^(--- |ok|FAIL|PASS)'
