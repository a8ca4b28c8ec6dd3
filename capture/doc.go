// Package capture opens video sources and delivers BGR frames, and lists and
// reads still images for classification and evaluation.
//
// # Sources
//
// [Open] takes the same source strings a user types on the command line and
// maps each to the OpenCV backend that handles it best:
//
//	"0".."99"                     camera index        -> V4L2 on Linux (the OS default elsewhere)
//	"/dev/video2", "/dev/v4l/..." V4L2 device path    -> V4L2
//	"rtsp://", "rtmp://", "http(s)://", "udp://", ... -> FFmpeg
//	"... ! ... ! appsink"         GStreamer pipeline  -> GStreamer
//	anything else                 video file path     -> FFmpeg
//
// Cameras are asked for the requested size, frame rate and (optionally) MJPG,
// with a driver buffer of one frame; [Info] reports what the driver actually
// granted, measured on the first frame.
//
// # Live sources keep only the newest frame
//
// Cameras, devices, URLs, GStreamer pipelines and files opened with
// [WithRealtime] are live: a grabber goroutine reads continuously and keeps
// only the newest frame, so [Source.Read] returns a frame at most one frame
// old. A classifier that shows its answer over the video must answer for what
// the user is doing now; a queue of stale frames would add latency that grows
// without bound whenever inference is slower than the camera. Frames
// overwritten before anyone read them are counted in [Stats.Dropped], and
// [Frame.Seq] numbers every grabbed frame, so the gaps a reader sees are the
// drops. [WithLatestOnly](false) keeps a short queue instead, for recorders
// that prefer completeness over latency.
//
// Files (without [WithRealtime]) are read synchronously: every frame, in
// order, none dropped, as fast as the caller reads them, which is what
// evaluation, benchmarks and offline annotation need.
//
// Frame memory comes from a small per-source pool of Mats: the caller calls
// the release function Read returns when it is done with the frame, and the
// Mat goes back to the pool, so a running source allocates no Mats per frame.
//
// # Errors
//
// A source that cannot be opened, or opens but yields no first frame, fails
// with an [*OpenError] wrapping [ErrSourceUnavailable], whose Hint says what
// to try. A live source that stops delivering mid-run ends with an error
// wrapping [ErrSourceLost]; a file or a finite pipeline ends with io.EOF.
//
// # Other frame producers
//
// [FromReader] makes a Source of any [Reader]'s frames; package capturetest
// uses it for the synthetic and failing sources that tests run without a
// camera.
package capture
