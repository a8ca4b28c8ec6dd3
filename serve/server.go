package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed web
var webFiles embed.FS

// Endpoint names used as metric labels.
const (
	endpointStream = "stream"
	endpointEvents = "events"
)

// Defaults for the options below.
const (
	DefaultStallTimeout = 3 * time.Second
	defaultWriteTimeout = 10 * time.Second
	DefaultMaxClients   = 64
	shutdownGrace       = 5 * time.Second
	keepaliveEvery      = 15 * time.Second
)

// Recording is a recorder of the annotated stream that the web page and
// /api/record can start and stop. The command supplies it (VideoRecorder is
// one); Start and Stop are called from HTTP handlers, concurrently with
// whatever feeds it frames, so implementations must be safe for that.
type Recording interface {
	Start() (path string, err error)
	Stop() (path string, frames int, err error)
	Active() bool
}

// ErrRecordingActive and ErrRecordingInactive are what a Recording returns
// from Start while recording and from Stop while not; /api/record maps them
// to 409 Conflict.
var (
	ErrRecordingActive   = errors.New("serve: already recording")
	ErrRecordingInactive = errors.New("serve: not recording")
)

// Option configures a Server.
type Option func(*Server) error

// WithStallTimeout sets how long without a new frame /healthz tolerates
// before it reports the source as stalled (default 3 s).
func WithStallTimeout(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("serve: stall timeout %v must be positive (default %v)", d, DefaultStallTimeout)
		}
		s.stallTimeout = d
		return nil
	}
}

// withWriteTimeout sets how long one frame or event may take to reach a
// viewer before the viewer is disconnected (default 10 s). It bounds how long a
// stalled viewer holds a connection and a frame; it never slows the pipeline.
func withWriteTimeout(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("serve: write timeout %v must be positive (default %v)", d, defaultWriteTimeout)
		}
		s.writeTimeout = d
		return nil
	}
}

// WithMaxClients caps concurrent /stream.mjpg plus /api/events viewers
// (default 64); more get 503. Each viewer costs a goroutine, a connection
// and at most one shared frame, so the cap bounds memory.
func WithMaxClients(n int) Option {
	return func(s *Server) error {
		if n < 1 {
			return fmt.Errorf("serve: max clients %d must be at least 1 (default %d)", n, DefaultMaxClients)
		}
		s.maxClients = int64(n)
		return nil
	}
}

// WithRecording enables the record buttons and /api/record.
func WithRecording(r Recording) Option {
	return func(s *Server) error {
		if r == nil {
			return errors.New("serve: WithRecording(nil): pass a Recording, or leave the option out to disable recording")
		}
		s.recording = r
		return nil
	}
}

// WithLogger logs viewers connecting and leaving, recordings and server
// errors (default: nothing is logged).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error {
		if l == nil {
			return errors.New("serve: WithLogger(nil): pass a logger, or leave the option out")
		}
		s.log = l
		return nil
	}
}

// Server serves a Hub over HTTP. Create it with NewServer.
type Server struct {
	hub          *Hub
	stallTimeout time.Duration
	writeTimeout time.Duration
	maxClients   int64
	recording    Recording
	allowedHosts []string // canonical, from WithAllowedHosts
	teacher      Teacher
	holdLimit    time.Duration
	log          *slog.Logger
	now          func() time.Time

	metrics *metrics
	clients atomic.Int64

	recMu   sync.Mutex // serialises Start/Stop from concurrent requests
	recPath string     // the current or last recording

	teach teachState
}

// NewServer returns a server for hub.
func NewServer(hub *Hub, opts ...Option) (*Server, error) {
	if hub == nil {
		return nil, errors.New("serve: NewServer(nil): create the hub with NewHub first")
	}
	s := &Server{
		hub:          hub,
		stallTimeout: DefaultStallTimeout,
		writeTimeout: defaultWriteTimeout,
		maxClients:   DefaultMaxClients,
		holdLimit:    defaultHoldLimit,
		log:          slog.New(slog.DiscardHandler),
		now:          time.Now,
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	s.metrics = newMetrics(
		func() float64 {
			if ok, _ := s.health(); ok {
				return 1
			}
			return 0
		},
		func() float64 {
			if f := s.hub.Latest(); f != nil {
				return s.now().Sub(f.Published).Seconds()
			}
			return -1
		},
	)
	hub.observe(s.metrics.published)
	return s, nil
}

// ObserveFrame records the pipeline's measurements of one frame for /metrics.
// Call it once per processed frame, from any goroutine.
func (s *Server) ObserveFrame(st FrameStats) {
	for stage, d := range st.Stages {
		s.metrics.stageLatency.WithLabelValues(stage).Observe(d.Seconds())
	}
	if st.Dropped > 0 {
		s.metrics.framesDropped.Add(float64(st.Dropped))
	}
	if st.InferError {
		s.metrics.inferErrors.Inc()
	}
}

// Handler returns the server's routes for a server listening on loopback
// (127.0.0.1, [::1] or localhost): requests that name another host are
// refused (see HandlerFor). Streams end when the request's context is done;
// ListenAndServe cancels them all on shutdown.
func (s *Server) Handler() http.Handler { return s.HandlerFor(nil) }

// HandlerFor returns the server's routes for a server listening on listen.
// Every request's Host must name listen's address (for a loopback address
// also localhost and any loopback address; for all interfaces, also any
// address of this machine) or a WithAllowedHosts name, and every
// state-changing request that carries an Origin must come from the same
// origin; others get 403. nil listen means loopback.
func (s *Server) HandlerFor(listen net.Addr) http.Handler {
	return s.guard(newHostPolicy(listen, s.allowedHosts), s.routes())
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded directory is fixed at compile time
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /stream.mjpg", s.handleStream)
	mux.HandleFunc("GET /snapshot.jpg", s.handleSnapshot)
	mux.HandleFunc("GET /api/prediction", s.handlePrediction)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.HandleFunc("GET /api/record", s.handleRecordStatus)
	mux.HandleFunc("POST /api/record", s.handleRecord)
	mux.HandleFunc("GET /api/teach", s.handleTeachStatus)
	mux.HandleFunc("POST /api/teach/record", s.handleTeachRecord)
	mux.HandleFunc("POST /api/teach/train", s.handleTeachTrain)
	mux.HandleFunc("POST /api/teach/reset", s.handleTeachReset)
	mux.HandleFunc("GET /api/teach/model", s.handleTeachModel)
	mux.HandleFunc("GET /api/teach/thumb", s.handleTeachThumb)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return mux
}

// ListenAndServe serves on addr until ctx is done, then shuts down
// gracefully: streams are ended, a running recording is stopped and
// finalized, and in-flight requests get up to 5 s to finish. It returns nil
// after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("serve: %s is already in use: stop the other server or pass another --addr (e.g. 127.0.0.1:8081)", addr)
		}
		return fmt.Errorf("serve: listening on %q: %w (pass --addr host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener, which it closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Streams never go idle, so http.Server.Shutdown alone would wait for
	// them forever: every request's context derives from base, and
	// cancelling base ends them.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.HandlerFor(ln.Addr()),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String())

	// A failing listener ends the server as ctx does, and gets the same
	// clean-up: requests in flight finish and a recording is finalized.
	var serveErr error
	select {
	case err := <-served:
		serveErr, served = fmt.Errorf("serve: %w", err), nil
	case <-ctx.Done():
	}
	cancelBase()
	s.cancelTraining()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shutErr := srv.Shutdown(shutdownCtx)
	if served != nil {
		<-served
	}
	if shutErr != nil {
		shutErr = fmt.Errorf("serve: shutdown: %w", shutErr)
	}
	// Stopped after Shutdown, so that a start request that was still in
	// flight cannot leave a recording running that nothing finalizes.
	recErr := s.stopRecording()
	return errors.Join(serveErr, recErr, shutErr)
}

// stopRecording finalizes a running recording so the file is playable.
func (s *Server) stopRecording() error {
	if s.recording == nil {
		return nil
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if !s.recording.Active() {
		return nil
	}
	path, frames, err := s.recording.Stop()
	if err != nil {
		return fmt.Errorf("serve: finalizing recording %s: %w", path, err)
	}
	s.log.Info("recording stopped at shutdown", "path", path, "frames", frames)
	return nil
}

// health reports whether frames flow, and if not, why.
func (s *Server) health() (bool, string) {
	st := s.hub.state()
	switch {
	case st.status != "":
		return false, st.status
	case st.frame == nil && st.closed:
		return false, "source ended before the first frame"
	case st.closed:
		return false, "source ended"
	case st.frame == nil:
		return false, "waiting for the first frame"
	}
	if age := s.now().Sub(st.frame.Published); age > s.stallTimeout {
		return false, fmt.Sprintf("stalled: no frame for %.1fs (limit %v)", age.Seconds(), s.stallTimeout)
	}
	return true, "ok"
}

// admit counts a streaming viewer in, or refuses it when the cap is reached.
// The returned release must be called when the viewer leaves.
func (s *Server) admit(endpoint string) (release func(), ok bool) {
	if s.clients.Add(1) > s.maxClients {
		s.clients.Add(-1)
		return nil, false
	}
	g := s.metrics.clients.WithLabelValues(endpoint)
	g.Inc()
	return func() {
		g.Dec()
		s.clients.Add(-1)
	}, true
}
