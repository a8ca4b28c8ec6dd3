#!/usr/bin/env bash
# scripts/setup.sh — installs everything rpscam needs on a fresh Debian bookworm machine.
# Idempotent: a second run checks and skips what is already in place.
#
#   Debian packages   OpenCV 4.6 (gocv v0.31.0), GStreamer and FFmpeg plugins, Xvfb/ImageMagick for tests
#   ONNX Runtime      1.30.0 for linux-x64, taken from the npm tarball onnxruntime-node@1.30.0
#                     (its install script is never run), sha256-checked, into .deps/ (ignored by git)
#   models            models/rps_mobilenetv2.onnx, assembled from the MobileNet-v2 weights in
#                     ${RPSCAM_SHARED:-../shared} and the committed head (see models/README.md)
#
# Environment: RPSCAM_SHARED (default ../shared), RPSCAM_SKIP_APT=1 to skip apt-get,
# RPSCAM_SKIP_MODELS=1 to skip building the models.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
apt_packages=(
	libopencv-dev pkg-config
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav gstreamer1.0-tools
	ffmpeg xvfb xauth imagemagick x11-utils
	chromium fonts-dejavu-core
)
if [ "${RPSCAM_SKIP_APT:-0}" != 1 ]; then
	missing=()
	for p in "${apt_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing Debian packages: ${missing[*]}"
		sudo_cmd=""
		[ "$(id -u)" = 0 ] || sudo_cmd=sudo
		$sudo_cmd apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		say "Debian packages present (${#apt_packages[@]})"
	fi
fi

# --- ONNX Runtime -----------------------------------------------------------
ort_version=1.30.0
ort_tgz_sha256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
ort_lib_sha256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ort_dir="$root/.deps/onnxruntime-$ort_version"
ort_lib="$ort_dir/libonnxruntime.so.1"
if [ -f "$ort_lib" ] && echo "$ort_lib_sha256  $ort_lib" | sha256sum -c --quiet - 2>/dev/null; then
	say "ONNX Runtime $ort_version present: $ort_lib"
else
	say "fetching ONNX Runtime $ort_version (npm pack onnxruntime-node@$ort_version; no install scripts run)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ort_version" >/dev/null)
	echo "$ort_tgz_sha256  $tmp/onnxruntime-node-$ort_version.tgz" | sha256sum -c --quiet -
	tar -xzf "$tmp/onnxruntime-node-$ort_version.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mkdir -p "$ort_dir"
	install -m 0644 "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ort_lib"
	echo "$ort_lib_sha256  $ort_lib" | sha256sum -c --quiet -
	say "ONNX Runtime $ort_version installed: $ort_lib"
fi

# --- Go modules --------------------------------------------------------------
go mod download
say "Go modules downloaded"

# --- models -----------------------------------------------------------------
if [ "${RPSCAM_SKIP_MODELS:-0}" != 1 ] && [ -x scripts/build-models.sh ]; then
	scripts/build-models.sh
fi
say "done"
