// Package serve makes the classifier watchable and scriptable over HTTP: a
// live web page, a multipart MJPEG stream of the annotated frames, the newest
// prediction as JSON and as server-sent events, recording control, Prometheus
// metrics, a health check, and a Teach panel (WithTeacher, TeachFrame) that
// records samples per class from the live frames, trains on them and swaps
// the taught model in. Every request must name the server by an address it
// listens on or an allowed name, and state-changing requests must come from
// its own page (DNS rebinding and cross-site requests are refused).
//
// The pipeline hands each processed frame to a Hub, which JPEG-encodes it once
// and keeps only the newest frame. Every viewer's handler waits on the Hub and
// takes whatever frame is newest when it is ready to send again, so a slow
// viewer skips frames instead of queueing them, never slows the pipeline or
// other viewers, and memory stays at one encoded frame plus one in flight per
// viewer.
//
//	hub := serve.NewHub()
//	srv, err := serve.NewServer(hub, serve.WithStallTimeout(3*time.Second))
//	go srv.ListenAndServe(ctx, "127.0.0.1:8080")
//	for each processed frame {
//		srv.ObserveFrame(serve.FrameStats{Stages: timings})
//		hub.Publish(annotated, prediction)
//	}
package serve
