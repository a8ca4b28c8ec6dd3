package main

import (
	"fmt"

	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/sink"
)

func runLive(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "live", "[flags]",
		"rpscam live                                  # laptop camera 0",
		"rpscam live --input /dev/video2 --width 1280 --height 720 --fps 30 --mjpg",
		"rpscam live --input out/demo.mp4 --realtime  # rehearse on a clip at its own pace",
		"rpscam live --roi 208,128,224,224 --smooth majority:5 --threshold 0.7",
		"rpscam live --samples samples/               # teach keys: 1-4 record a class, t train and swap, 0 shipped model",
		"keys: q or Esc quit, space pause, r start/stop recording, s snapshot PNG")
	sf := newSessionFlags(fs).addSourceFlags("0").addReconnectFlags().addModelFlags(true)
	saveDir := fs.String("save-dir", ".", "folder for recordings (r) and snapshots (s)")
	samples := fs.String("samples", "", "samples folder for the teach keys (1-4 record a class, t train and swap, 0 shipped model; the taught model goes to DIR/"+taughtModelName+"); default: teaching off")
	shared := fs.String("shared", "", "with --samples: shared data folder for the general data mixed into teaching (default $RPSCAM_SHARED, else ../shared)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	// Snapshots and recordings go there only when a key asks, long after
	// startup; a folder that cannot take them should say so now.
	if err := checkSaveDir(*saveDir); err != nil {
		if fs.Changed("save-dir") {
			return err
		}
		// The default, the current folder, was not asked for: watching
		// alone must still work from a read-only one.
		fmt.Fprintf(env.stderr, "live: warning: %v: until then r and s will fail\n", err)
	}
	// Before anything touches OpenCV's GUI: without a display Qt aborts the
	// whole process, so this is the only chance to say what to do instead.
	if err := sink.DisplayAvailable(); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	// A camera that drops out is reopened with backoff for as long as the
	// window is open; the window says so meanwhile.
	sf.Reconnect = true
	s, err := sf.open(env)
	if err != nil {
		return err
	}
	defer s.Close()
	info := s.Info()
	win, err := sink.NewWindow("rpscam", info.Width, info.Height)
	if err != nil {
		return err
	}
	defer win.Close()
	lw := sink.NewLiveWindow(ctx, win, s.Annotator(), *saveDir, info.FPS, env.stderr)
	lw.SetRealTime(info.Live) // a camera's recordings play back at real speed
	defer lw.Close()
	fmt.Fprintf(env.stderr, "live: %s\nkeys: q/Esc quit, space pause, r record, s snapshot\n", s.Describe())
	sinks := []pipeline.Sink{lw}
	if *samples != "" {
		keys, done, err := liveTeachKeys(ctx, env, sf, *samples, *shared, s)
		if err != nil {
			return err
		}
		defer done()
		lw.SetKeys(keys.Key)
		sinks = []pipeline.Sink{keys, lw}
	}
	st, err := s.Run(ctx, sinks...)
	lw.StopRecording()
	fmt.Fprintf(env.stdout, "frames processed: %d, dropped by the source: %d, %.1f fps\n", st.Frames, st.Dropped, st.FPS)
	return err
}

// checkSaveDir refuses a --save-dir that is not an existing folder live can
// write snapshots and recordings to.
func checkSaveDir(dir string) error { return checkOutputFolder("--save-dir "+dir, dir) }
