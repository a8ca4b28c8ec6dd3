#!/usr/bin/env bash
# scripts/build-models.sh — builds the ONNX models from the MobileNet-v2 TFLite
# weights in ${RPSCAM_SHARED:-../shared} (never copied into the repository).
#
#   bin/rpscam                          go build ./cmd/rpscam, when a Go source is newer
#   models/mobilenet_v2_backbone.onnx   rpscam convert (features only; used by training)
#   models/rps_mobilenetv2.onnx         rpscam export, when models/rps_head.params exists
#                                       (head + any fine-tuned layers, e.g. block_16 and
#                                       Conv_1 stored as float16, replacing the backbone's)
#   models/rps_mobilenetv2_int8.onnx    rpscam quantize: int8 weights, uint8 activations
#                                       calibrated on 300 training images, compared with
#                                       the float model on the validation split and the
#                                       test sets (about a minute on 2 cores)
#
# Idempotent: each output is rebuilt only when older than its inputs.
# Environment: RPSCAM_SHARED (shared folder), RPSCAM_WEIGHTS (tf2 or slim, for
# the backbone; export follows what the params were trained on).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'build-models: %s\n' "$*"; }
die() { printf 'build-models: error: %s\n' "$*" >&2; exit 1; }

shared=${RPSCAM_SHARED:-../shared}
weights=${RPSCAM_WEIGHTS:-tf2}
case "$weights" in
	tf2) tflite="$shared/models/mobilenet_v2/tf2_mobilenet_v2_1.0_224_ptq.tflite" ;;
	slim) tflite="$shared/models/mobilenet_v2/mobilenet_v2_1.0_224_quant.tflite" ;;
	*) die "RPSCAM_WEIGHTS=$weights: use tf2 or slim" ;;
esac
[ -d "$shared" ] || die "shared folder $shared not found: put the shared data beside the repository or set RPSCAM_SHARED"
[ -f "$tflite" ] || die "$tflite not found: the shared folder is incomplete (see its README.md)"

# newer OUT IN...: true when OUT is missing or older than any IN.
stale() {
	local out=$1
	shift
	[ -e "$out" ] || return 0
	for in in "$@"; do
		[ "$in" -nt "$out" ] && return 0
	done
	return 1
}

# The binary: rebuilt when any Go source or go.mod/go.sum is newer.
if [ ! -x bin/rpscam ] || [ -n "$(find . \( -path ./.deps -o -path ./.git -o -path ./bin \) -prune -o \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer bin/rpscam -print -quit)" ]; then
	say "building bin/rpscam"
	mkdir -p bin
	go build -o bin/rpscam ./cmd/rpscam
else
	say "bin/rpscam up to date"
fi

mkdir -p models
backbone=models/mobilenet_v2_backbone.onnx
if stale "$backbone" "$tflite" bin/rpscam; then
	say "converting $tflite -> $backbone"
	bin/rpscam convert --tflite "$tflite" --out "$backbone"
else
	say "$backbone up to date"
fi

params=models/rps_head.params
model=models/rps_mobilenetv2.onnx
if [ -f "$params" ]; then
	if stale "$model" "$params" bin/rpscam "$shared/models/mobilenet_v2"/*.tflite; then
		say "exporting $params -> $model"
		bin/rpscam export --params "$params" --shared "$shared" --out "$model"
	else
		say "$model up to date"
	fi
	int8=models/rps_mobilenetv2_int8.onnx
	if stale "$int8" "$model" "$params" bin/rpscam; then
		say "quantizing $model -> $int8"
		bin/rpscam quantize --model "$model" --params "$params" --shared "$shared" --out "$int8"
	else
		say "$int8 up to date"
	fi
	# The general features teaching mixes in, cached beside the model, so
	# that the first Train (rpscam teach, live --samples, serve --samples)
	# takes seconds; a no-op when the cache already holds them.
	say "caching the general features teaching mixes in (models/cache/)"
	bin/rpscam teach --prepare --model "$model" --params "$params" --shared "$shared"
else
	say "no $params yet (rpscam train writes it): skipping $model"
fi
