#!/usr/bin/env bash
# nightly.sh runs the nightly fuzz campaign locally: every fuzz target
# (or the ones in $TARGETS), sharing $FUZZ_TIME and all cores, into $OUT.
# Interrupted (Ctrl-C, a crash, kill -9), it continues where it stopped when
# run again with RESUME=1. Exit status 1 when a finding appears: the
# reduced regression scenarios are in $OUT/regressions (copy them into
# corpus/regressions to keep them), the report in $OUT/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_TIME=${FUZZ_TIME:-1h}
TARGETS=${TARGETS:-all}
FORMATS=${FORMATS:-}
OUT=${OUT:-fuzz-out/nightly-$(date -u +%Y%m%d)}
JOBS=${JOBS:-$(nproc)}
go build -o bin/linkcheck ./cmd/linkcheck
args=(-targets "$TARGETS" -time "$FUZZ_TIME" -jobs "$JOBS" -out "$OUT")
[ -n "$FORMATS" ] && args+=(-formats "$FORMATS")
[ "${RESUME:-0}" = 1 ] && args+=(-resume)
[ -n "${LINKER:-}" ] && args+=(-linker "$LINKER")
exec ./bin/linkcheck fuzz "${args[@]}"
