// Package pipeline runs rpscam's real-time loop: capture, classification and
// output as three pipelined stages, each its own goroutine, joined by bounded
// channels, so that decoding frame n+1 and drawing/encoding frame n-1 overlap
// with the inference of frame n.
//
//	Source.Read ─chan─▶ [Preprocess ─chan─▶] Classify or Infer, smoothing, decision ─chan─▶ Annotate, Sink.Consume…
//	 (goroutine)         (goroutine)          (goroutine)                                     (the goroutine that called Run)
//
// The last stage runs on the goroutine that calls Run, so a GUI sink (an
// OpenCV window, which Qt wants driven from one thread) can be used from the
// main goroutine.
//
// # Frames and ownership
//
// A Source hands out a Frame plus a release func. The pipeline owns the
// frame's Mat from Read until it calls release, exactly once, after every
// sink has consumed it (or when the run is abandoned). The Annotator draws on
// that Mat in place: no copy is made between capture and output.
//
// A file source is read ahead: channels hold up to QueueDepth frames each
// (default 1), so decoding overlaps inference, and the file is read only as
// fast as inference goes (backpressure: every frame is processed, in order).
// A live source (LiveSource reporting true: a camera keeps only its newest
// frame and counts the ones it overwrites) is read only when the next stage
// asks for a frame, through unbuffered channels, so what is classified is at
// most one inference old, never a queue of stale frames.
//
// A classifier that implements StagedClassifier gets a fourth stage:
// preprocessing (crop, resize, colour conversion) runs in its own goroutine,
// overlapping the model run of the previous frame, into input buffers that
// circulate between the two stages without allocation.
//
// WithParallelClassifiers adds more instances of the model, each on its own
// goroutine, taking frames as they become free; a sequencing step restores
// capture order before smoothing, so sinks always see frames in order.
//
// # Swapping the model
//
// (*Pipeline).Swap replaces the classifier instances from any goroutine,
// before, during or after Run. Each frame takes the model current when it is
// read and keeps it to the end, so frames in flight finish on the old model
// and the switch falls between two frames; Swap returns the replaced
// instances and a channel closed once no frame holds them, after which the
// caller closes them. Load the new instances first: Swap only switches, so
// frames keep flowing at their pace. A model that does not fit (another
// prepared input size, number of instances, or staging) is refused with an
// error wrapping ErrIncompatibleModel. The labels may differ: the decision,
// Annotated.Labels and the overlay follow the new model from its first frame,
// and the smoother starts over there.
//
// WithFrameTap sees each frame as captured, before the annotator draws on
// it, with the configured ROI: what teaching keeps as samples.
//
// # Consumers
//
// Anything that wants the annotated stream — the video recorder, the window,
// the HTTP server — implements Sink:
//
//	type Sink interface{ Consume(a *Annotated) error }
//
// Annotated carries the annotated Mat (valid only during Consume: clone it to
// keep it), the frame's sequence number and capture time, the raw and
// smoothed probabilities, the Decision, the per-stage durations of this frame,
// the running FPS, the source's dropped-frame count and the current status
// line. A Sink that returns ErrStop ends the run cleanly (the q key in a
// window); any other error ends it with that error. Sinks run one after
// another in the order given, on the output goroutine.
//
// Status messages ("reconnecting to rtsp://…") are set with
// (*Pipeline).SetStatus from any goroutine; they appear in Annotated.Status and
// are passed to the WithStatusListener callback. While no frame comes (a
// camera reconnecting), WithIdle keeps the output goroutine's sinks alive: a
// window redraws its last frame with the status and keeps handling keys.
//
// # Statistics
//
// Run returns Stats: frames processed, frames dropped by the source, the
// end-to-end FPS and, per stage (capture/decode, preprocess, inference,
// postprocess, overlay, output), the latency distribution (latency.Summary)
// over the frames after the warm-up (WithWarmup).
package pipeline
