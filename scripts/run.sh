#!/usr/bin/env bash
# scripts/run.sh — the main job on a fresh machine: set-up, then
#   * with a camera (/dev/video*) and a display: `rpscam live` on camera 0;
#   * otherwise: a demo clip made from ../shared images, recorded with the
#     gesture overlay to out/demo_annotated.mp4, plus an FPS benchmark of the
#     same clip (out/bench.json) — the classifier working, headless.
# Extra arguments go to `rpscam live` (e.g. --input 1, --roi 200,100,240,240).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
go build -o bin/rpscam ./cmd/rpscam
export ONNXRUNTIME_SHARED_LIBRARY_PATH="${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$(pwd)/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}"

if compgen -G '/dev/video*' >/dev/null && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
	echo "run: camera and display found: rpscam live (q or Esc quits, r records, s snapshots)"
	exec bin/rpscam live "$@"
fi

echo "run: no camera or no display: recording an annotated demo clip instead"
mkdir -p out
[ -s out/demo.mp4 ] || bin/rpscam democlip --out out/demo.mp4
bin/rpscam record --input out/demo.mp4 --output out/demo_annotated.mp4
bin/rpscam bench --input out/demo.mp4 --frames 500 | tee out/bench.txt
bin/rpscam bench --input out/demo.mp4 --frames 500 --json >out/bench.json
echo "run: annotated video out/demo_annotated.mp4 (input out/demo.mp4); FPS report out/bench.txt, out/bench.json"
