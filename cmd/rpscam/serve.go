package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/rpscam/rpscam/serve"
)

func runServe(env *cliEnv, args []string) error {
	return exitError(serveCmd(env, args))
}

func serveCmd(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "serve", "[flags]",
		"rpscam serve --input 0                        # then open http://127.0.0.1:8080/",
		"rpscam serve --input rtsp://cam/stream --addr 0.0.0.0:8080 --record-dir recordings",
		"rpscam serve --input out/demo.mp4             # a file plays at its own frame rate",
		"curl -s localhost:8080/api/prediction; curl -N localhost:8080/api/events?max_rate=5",
		"curl -s -X POST -H 'Content-Type: application/json' -d '{\"action\":\"start\"}' localhost:8080/api/record",
		"endpoints: / (page), /stream.mjpg, /snapshot.jpg, /api/prediction, /api/events, /api/record, /metrics, /healthz")
	sf := addSourceFlags(fs, "0")
	sf.addReconnectFlags(fs)
	mf := addModelFlags(fs, true)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on; 0.0.0.0:8080 lets other machines connect")
	recordDir := fs.String("record-dir", "", "folder for recordings started from the page or /api/record (default: recording off)")
	quality := fs.Int("jpeg-quality", serve.DefaultJPEGQuality, "JPEG quality of the stream, 1..100")
	stall := fs.Duration("stall-timeout", serve.DefaultStallTimeout, "/healthz reports the source stalled after this long without a frame")
	maxClients := fs.Int("max-clients", serve.DefaultMaxClients, "most concurrent stream and event viewers")
	exitAtEnd := fs.Bool("exit-at-end", false, "exit when the source ends (default: keep serving the last frame until Ctrl-C)")
	verbose := fs.BoolP("verbose", "v", false, "log viewers connecting and leaving")
	// A viewer expects a file to play like a camera, at its own pace.
	sf.realtime = true
	if f := fs.Lookup("realtime"); f != nil {
		f.DefValue = "true"
		f.Usage = "play a video file at its own frame rate like a camera (--realtime=false: as fast as inference goes)"
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	hub, err := serve.NewHub(serve.WithJPEGQuality(*quality))
	if err != nil {
		return usagef("--jpeg-quality: %v", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	opts := []serve.Option{serve.WithStallTimeout(*stall), serve.WithMaxClients(*maxClients), serve.WithLogger(logger)}

	ctx, stop := signalContext()
	defer stop()
	// Listen before loading the model, so a busy port fails in a moment.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return usagef("--addr %s is already in use: stop the other server or pass another port, e.g. --addr 127.0.0.1:8081", *addr)
		}
		return usagef("--addr %s: %v (give host:port, e.g. 127.0.0.1:8080)", *addr, err)
	}
	defer ln.Close()
	// A camera or stream that drops out is reopened with backoff while the
	// server runs; /healthz answers 503 "reconnecting…" meanwhile.
	sf.reconnect = true
	s, err := openSession(env, mf, sf)
	if err != nil {
		return err
	}
	defer s.Close()

	var rec *serve.VideoRecorder
	if *recordDir != "" {
		fps := s.Info().FPS
		if !(fps > 0) {
			fps = 30 // the backend does not know; most cameras deliver 30
		}
		if rec, err = serve.NewVideoRecorder(*recordDir, fps, serve.WithIndicator(s.Annotator().SetRecording)); err != nil {
			return usagef("--record-dir: %v", err)
		}
		opts = append(opts, serve.WithRecording(rec))
	}
	srv, err := serve.NewServer(hub, opts...)
	if err != nil {
		return usagef("%v", err)
	}

	// The server outlives the pipeline (it keeps showing the last frame
	// when a file ends); if the server fails, the pipeline stops too.
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	served := make(chan error, 1)
	go func() {
		err := srv.Serve(serveCtx, ln)
		stopRun()
		served <- err
	}()

	fmt.Fprintf(env.stderr, "serve: %s\nopen http://%s/ (Ctrl-C to stop)\n", s.Describe(), ln.Addr())
	st, runErr := s.Run(runCtx, serve.NewSink(hub, srv, rec, env.stderr))
	if runErr == nil && !st.Interrupted {
		hub.Close() // viewers' streams end; snapshots and /api/prediction keep the last frame
		if !*exitAtEnd {
			fmt.Fprintf(env.stderr, "serve: the source ended after %d frames; still serving the last one (Ctrl-C to stop)\n", st.Frames)
			<-serveCtx.Done()
		}
	}
	stopServing()
	serveErr := <-served
	fmt.Fprintf(env.stdout, "frames processed: %d, dropped by the source: %d, %.1f fps\n", st.Frames, st.Dropped, st.FPS)
	return errors.Join(runErr, serveErr)
}
