#!/usr/bin/env bash
# scripts/test.sh — the project's whole test run on a fresh machine: set-up, then
# gofmt/vet, the unit and end-to-end tests, the open-Mat count tests (build tag
# matprofile), short fuzz runs of every user-input parser, and a 2-minute soak.
#
# Environment: RPSCAM_SHARED (default ../shared); RPSCAM_SOAK=0 skips the soak;
# RPSCAM_FUZZTIME (default 20000x) is the budget per fuzz target: an execution
# count, because a duration budget (-fuzztime 10s) trips a race in Go 1.26's fuzz
# coordinator that fails the target with a bare "context deadline exceeded" and
# no crasher (go.dev/issue/75804, fixed in Go 1.27).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

export ONNXRUNTIME_SHARED_LIBRARY_PATH="${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$(pwd)/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}"

echo "== gofmt / go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
go vet -tags matprofile ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== go test -tags matprofile (open gocv.Mat counts)"
go test -count=1 -timeout 20m -tags matprofile -run 'MatProfile|Mats' ./...

echo "== fuzz (${RPSCAM_FUZZTIME:-20000x} per target)"
for target in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${target#./}")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$target" | sed 's/^func //'); do
		echo "-- $pkg $fn"
		go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${RPSCAM_FUZZTIME:-20000x}" "$pkg"
	done
done

if [ "${RPSCAM_SOAK:-1}" != 0 ] && [ -x scripts/soak.sh ]; then
	echo "== soak (2 minutes)"
	scripts/soak.sh --duration 2m
fi
echo "== all tests passed"
