package serve

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rpscam/rpscam/infer"
)

// metrics are one Server's Prometheus collectors, registered on the server's
// own registry so two servers in a process (or in tests) never collide.
type metrics struct {
	registry        *prometheus.Registry
	framesProcessed prometheus.Counter
	framesDropped   prometheus.Counter
	inferErrors     prometheus.Counter
	stageLatency    *prometheus.HistogramVec
	fps             prometheus.Gauge
	clients         *prometheus.GaugeVec
	labels          *prometheus.CounterVec
	handPresent     prometheus.Gauge
	framesSent      *prometheus.CounterVec
	framesSkipped   *prometheus.CounterVec
	sourceUp        prometheus.GaugeFunc
	lastFrameAge    prometheus.GaugeFunc
}

// Stage names the server observes itself; the pipeline's own stage names come
// in through FrameStats.
const (
	stageEncode   = "encode"     // JPEG encoding in the hub
	stageEndToEnd = "end_to_end" // capture to publication
)

// latencyBuckets span 0.5 ms to 1 s: preprocessing of a small frame is well
// under a millisecond, a CPU MobileNet inference is tens of milliseconds.
var latencyBuckets = []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1.024}

func newMetrics(healthy func() float64, frameAge func() float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		framesProcessed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpscam_frames_processed_total",
			Help: "Frames classified and published to viewers.",
		}),
		framesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpscam_frames_dropped_total",
			Help: "Frames the pipeline dropped because processing fell behind the source.",
		}),
		inferErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpscam_inference_errors_total",
			Help: "Frames whose inference failed.",
		}),
		stageLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rpscam_stage_latency_seconds",
			Help:    "Per-frame latency of each pipeline stage.",
			Buckets: latencyBuckets,
		}, []string{"stage"}),
		fps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rpscam_fps",
			Help: "Current processed frames per second.",
		}),
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpscam_clients_connected",
			Help: "Viewers connected, by endpoint.",
		}, []string{"endpoint"}),
		labels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpscam_predictions_total",
			Help: `Published predictions by the model's label ("none" is the no-hand class).`,
		}, []string{"label"}),
		handPresent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rpscam_hand_present",
			Help: `1 while the newest prediction is a hand gesture, 0 while it is "no hand" (the model's "none" class) or before the first; a model without "none" always says 1.`,
		}),
		framesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpscam_client_frames_sent_total",
			Help: "Frames or events written to viewers, by endpoint.",
		}, []string{"endpoint"}),
		framesSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpscam_client_frames_skipped_total",
			Help: "Frames viewers skipped because they were slower than the pipeline (or asked for a lower rate), by endpoint.",
		}, []string{"endpoint"}),
		sourceUp: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rpscam_source_up",
			Help: "1 while frames flow, 0 while the source is stalled, reconnecting or not started.",
		}, healthy),
		lastFrameAge: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rpscam_last_frame_age_seconds",
			Help: "Seconds since the newest frame was published (-1 before the first).",
		}, frameAge),
	}
	m.registry.MustRegister(
		m.framesProcessed, m.framesDropped, m.inferErrors, m.stageLatency, m.fps,
		m.clients, m.labels, m.handPresent, m.framesSent, m.framesSkipped, m.sourceUp, m.lastFrameAge,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Both endpoints exist from the start so dashboards see 0, not "no data".
	for _, e := range []string{endpointStream, endpointEvents} {
		m.clients.WithLabelValues(e)
		m.framesSent.WithLabelValues(e)
		m.framesSkipped.WithLabelValues(e)
	}
	return m
}

// published runs on the publishing goroutine for every frame.
func (m *metrics) published(f *Frame) {
	m.framesProcessed.Inc()
	m.fps.Set(f.FPS)
	m.stageLatency.WithLabelValues(stageEncode).Observe(f.EncodeTime.Seconds())
	if f.Prediction.Latency > 0 {
		m.stageLatency.WithLabelValues(stageEndToEnd).Observe(f.Prediction.Latency.Seconds())
	}
	if f.Prediction.Label != "" {
		m.labels.WithLabelValues(f.Prediction.Label).Inc()
	}
	hand := 0.0
	if infer.IsHand(f.Prediction.Label) {
		hand = 1
	}
	m.handPresent.Set(hand)
}

// FrameStats is what the pipeline measured about one frame, for /metrics.
type FrameStats struct {
	Stages     map[string]time.Duration // e.g. "capture", "preprocess", "infer", "annotate"
	Dropped    uint64                   // frames dropped since the previous ObserveFrame call
	InferError bool                     // inference failed on this frame
}
