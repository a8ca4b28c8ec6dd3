#!/usr/bin/env bash
# scripts/soak.sh — run live-mode processing for a while and check it does
# not leak: RSS flat after warm-up, goroutines back to baseline, no gocv.Mat
# left open. Needs no camera: a live GStreamer test source that "unplugs"
# every 30 s (so reconnection is soaked too), the real model when
# models/rps_mobilenetv2.onnx exists (else a generated tiny one), the overlay
# and the MJPEG hub. Prints one row per sample (per minute; per 10 s for runs
# of 5 minutes or less) and a verdict; exits non-zero on failure.
#
#   scripts/soak.sh --duration 30m
#   scripts/soak.sh --duration 2m --model tiny
set -euo pipefail
cd "$(dirname "$0")/.."

duration=2m
model=""
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration="$2"; shift 2 ;;
	--duration=*) duration="${1#*=}"; shift ;;
	--model) model="$2"; shift 2 ;;
	--model=*) model="${1#*=}"; shift ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "soak.sh: unknown argument $1 (want --duration D, --model PATH|tiny)" >&2; exit 2 ;;
	esac
done

export ONNXRUNTIME_SHARED_LIBRARY_PATH="${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$(pwd)/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}"
export RPSCAM_SOAK_DURATION="$duration"
[ -n "$model" ] && export RPSCAM_SOAK_MODEL="$model"

# The test's own timeout: the soak plus building and closing down.
case "$duration" in
*h) secs=$(( ${duration%h} * 3600 )) ;;
*m) secs=$(( ${duration%m} * 60 )) ;;
*s) secs=${duration%s} ;;
*) echo "soak.sh: --duration $duration: want whole seconds, minutes or hours, e.g. 90s, 2m, 30m, 1h" >&2; exit 2 ;;
esac
timeout=$((secs + 600))s

# -v streams the table as it is sampled; the verdict line and go test's
# exit status decide.
set +e
go test -count=1 -tags matprofile -run '^TestSoak$' -timeout "$timeout" -v ./pipeline/parts/ 2>&1 |
	grep --line-buffered -v -e 'WARN' -e '^=== RUN' -e '^$'
status=${PIPESTATUS[0]}
set -e
exit "$status"
