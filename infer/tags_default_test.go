//go:build !matprofile

package infer

// matProfile is set under gocv's matprofile tag, whose bookkeeping records a
// stack for every Mat created, so allocation counts are not meaningful.
const matProfile = false
