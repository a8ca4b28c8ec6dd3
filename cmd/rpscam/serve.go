package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/serve"
	"github.com/rpscam/rpscam/session"
)

// serveOpts are rpscam serve's flags after parsing.
type serveOpts struct {
	sf                  *sessionFlags
	addr, recordDir     string
	samples, shared     string
	allowedHosts        []string
	quality, maxClients int
	stall               time.Duration
	exitAtEnd, verbose  bool
}

func parseServeFlags(env *cliEnv, args []string) (*serveOpts, error) {
	fs := newFlagSet(env, "serve", "[flags]",
		"rpscam serve --input 0                        # then open http://127.0.0.1:8080/",
		"rpscam serve --input rtsp://cam/stream --addr 0.0.0.0:8080 --record-dir recordings",
		"rpscam serve --input out/demo.mp4             # a file plays at its own frame rate",
		"rpscam serve --samples samples/               # with the Teach panel: record your gestures, train, swap",
		"curl -s localhost:8080/api/prediction; curl -N localhost:8080/api/events?max_rate=5",
		"curl -s -X POST -H 'Content-Type: application/json' -d '{\"action\":\"start\"}' localhost:8080/api/record",
		"endpoints: / (page), /stream.mjpg, /snapshot.jpg, /api/prediction, /api/events, /api/record, /metrics, /healthz")
	o := &serveOpts{sf: newSessionFlags(fs).addSourceFlags("0").addReconnectFlags().addModelFlags(true)}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on; 0.0.0.0:8080 lets other machines connect")
	fs.StringArrayVar(&o.allowedHosts, "allowed-host", nil, "a host name the page may be opened by besides the listen address (repeatable; '*': any, which gives up the DNS-rebinding check)")
	fs.StringVar(&o.recordDir, "record-dir", "", "folder for recordings started from the page or /api/record (default: recording off)")
	fs.StringVar(&o.samples, "samples", "", "samples folder for the page's Teach panel (DIR/rock/, DIR/paper/, …; the taught model goes to DIR/"+taughtModelName+"); default: teaching off")
	fs.StringVar(&o.shared, "shared", "", "with --samples: shared data folder for the general data mixed into teaching and the backbone weights (default $RPSCAM_SHARED, else ../shared)")
	fs.IntVar(&o.quality, "jpeg-quality", serve.DefaultJPEGQuality, "JPEG quality of the stream, 1..100")
	fs.DurationVar(&o.stall, "stall-timeout", serve.DefaultStallTimeout, "/healthz reports the source stalled after this long without a frame")
	fs.IntVar(&o.maxClients, "max-clients", serve.DefaultMaxClients, "most concurrent stream and event viewers")
	fs.BoolVar(&o.exitAtEnd, "exit-at-end", false, "exit when the source ends (default: keep serving the last frame until Ctrl-C)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log viewers connecting and leaving")
	// A viewer expects a file to play like a camera, at its own pace.
	o.sf.Realtime = true
	if f := fs.Lookup("realtime"); f != nil {
		f.DefValue = "true"
		f.Usage = "play a video file at its own frame rate like a camera (--realtime=false: as fast as inference goes)"
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	if err := serve.CheckAllowedHosts(o.allowedHosts...); err != nil {
		return nil, usagef("--allowed-host: %v", err)
	}
	return o, nil
}

func runServe(env *cliEnv, args []string) error {
	o, err := parseServeFlags(env, args)
	if err != nil {
		return err
	}
	hub, err := serve.NewHub(serve.WithJPEGQuality(o.quality))
	if err != nil {
		return usagef("--jpeg-quality: %v", err)
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	opts := []serve.Option{serve.WithStallTimeout(o.stall), serve.WithMaxClients(o.maxClients), serve.WithLogger(logger)}
	if len(o.allowedHosts) > 0 {
		opts = append(opts, serve.WithAllowedHosts(o.allowedHosts...))
	}

	ctx, stop := signalContext()
	defer stop()
	ln, err := serve.Listen(o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	// A camera or stream that drops out is reopened with backoff while the
	// server runs; /healthz answers 503 "reconnecting…" meanwhile.
	o.sf.Reconnect = true
	s, err := o.sf.open(env)
	if err != nil {
		return err
	}
	defer s.Close()

	var rec *serve.VideoRecorder
	if o.recordDir != "" {
		fps := s.Info().FPS
		if !(fps > 0) {
			fps = 30 // the backend does not know; most cameras deliver 30
		}
		recOpts := []serve.RecorderOption{serve.WithIndicator(s.Annotator().SetRecording)}
		if s.Info().Live {
			recOpts = append(recOpts, serve.WithRealTime()) // plays back at real speed
		}
		if rec, err = serve.NewVideoRecorder(o.recordDir, fps, recOpts...); err != nil {
			return usagef("--record-dir: %v", err)
		}
		opts = append(opts, serve.WithRecording(rec))
	}
	if o.samples != "" {
		teacher, err := newTeacher(env, o.sf, o.samples, o.shared, s)
		if err != nil {
			return err
		}
		defer teacher.Close()
		opts = append(opts, serve.WithTeacher(servedTeacher{teacher}))
	}
	srv, err := serve.NewServer(hub, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	return o.serve(ctx, env, s, hub, srv, rec, ln)
}

// serve runs the pipeline into the server until the source ends (then,
// without --exit-at-end, until Ctrl-C) or the server fails.
func (o *serveOpts) serve(ctx context.Context, env *cliEnv, s *session.Session, hub *serve.Hub, srv *serve.Server, rec *serve.VideoRecorder, ln net.Listener) error {
	fmt.Fprintf(env.stderr, "serve: %s\nopen http://%s/ (Ctrl-C to stop)\n", s.Describe(), ln.Addr())
	var st pipeline.Stats
	err := srv.ServeWhile(ctx, ln, o.exitAtEnd, func(ctx context.Context) (bool, error) {
		var err error
		st, err = s.Run(ctx, serve.NewSink(hub, srv, rec, env.stderr))
		return !st.Interrupted, err
	}, func() {
		fmt.Fprintf(env.stderr, "serve: the source ended after %d frames; still serving the last one (Ctrl-C to stop)\n", st.Frames)
	})
	fmt.Fprintf(env.stdout, "frames processed: %d, dropped by the source: %d, %.1f fps\n", st.Frames, st.Dropped, st.FPS)
	return err
}
