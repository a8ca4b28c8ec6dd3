package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/internal/samefile"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/sink"
)

// recordOpts are rpscam record's flags after parsing.
type recordOpts struct {
	sf       *sessionFlags
	output   string
	duration time.Duration
	quiet    bool
	onLoss   string
}

func parseRecordFlags(env *cliEnv, args []string) (*recordOpts, error) {
	fs := newFlagSet(env, "record", "--input SOURCE --output FILE [flags]",
		"rpscam record --input 0 --output demo.mp4 --duration 30s",
		"rpscam record --input out/demo.mp4 --output out/demo-annotated.mp4",
		"rpscam record --input 'videotestsrc num-buffers=300 ! videoconvert ! appsink' --output test.avi",
		"rpscam record --input rtsp://camera.local/stream --output door.mp4 --frames 900 --smooth majority:5")
	o := &recordOpts{sf: newSessionFlags(fs).addSourceFlags("0").addReconnectFlags().addModelFlags(true)}
	fs.StringVarP(&o.output, "output", "o", "", "annotated video to write: .mp4 or .mov (H.264, else MPEG-4), .avi (MJPG), .mkv (H.264, else MJPG)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long, e.g. 30s (0: until the source ends or Ctrl-C)")
	fs.IntVar(&o.sf.MaxFrames, "frames", 0, "stop after this many frames (0: no limit)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line")
	fs.StringVar(&o.onLoss, "on-source-loss", "reconnect", "when a camera or stream is lost: reconnect (reopen with backoff and keep recording into the same file) or stop (finish the file and exit); files simply end")
	fs.DurationVar(&o.sf.GiveUp, "reconnect-timeout", 0, "with --on-source-loss reconnect: give up and finish the file after trying this long (0: keep trying until Ctrl-C)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	switch o.onLoss {
	case "reconnect":
		o.sf.Reconnect = true
	case "stop":
	default:
		return nil, usagef("--on-source-loss %q: want reconnect or stop", o.onLoss)
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	case o.output == "":
		return nil, usagef("--output is required: the video file to write, e.g. --output demo.mp4")
	case o.duration < 0 || o.sf.MaxFrames < 0:
		return nil, usagef("--duration and --frames must not be negative")
	}
	return o, nil
}

func runRecord(env *cliEnv, args []string) error {
	o, err := parseRecordFlags(env, args)
	if err != nil {
		return err
	}
	// Refuse an output that cannot be written before the camera opens,
	// rather than after the user has started performing for it.
	if err := sink.CheckOutput(o.output); err != nil {
		return usageError{fmt.Errorf("--output: %w", err)}
	}
	// The writer truncates its file as it opens, so recording a video onto
	// itself would destroy the input before it is read.
	if _, err := os.Stat(o.sf.input); err == nil && samefile.Same(o.sf.input, o.output) {
		return usagef("--output %s is the --input file: recording would overwrite the video it reads; write to another file, e.g. --output %s", o.output, annotatedName(o.output))
	}
	ctx, stop := signalContext()
	defer stop()
	s, err := o.sf.open(env)
	if err != nil {
		return err
	}
	defer s.Close()
	info := s.Info()
	var recOpts []sink.RecorderOption
	if info.Live { // a camera, stream or --realtime file: the file plays at the speed it was captured
		recOpts = append(recOpts, sink.WithRealTime())
	}
	rec, err := sink.NewRecorder(o.output, info.FPS, info.Width, info.Height, recOpts...)
	if err != nil {
		return err
	}
	defer rec.Close()
	s.Annotator().SetRecording(true)

	sinks := []pipeline.Sink{rec}
	if !o.quiet {
		sinks = append(sinks, session.NewProgress(env.stderr, "recording:"))
	}
	counts := &session.LabelCounts{}
	sinks = append(sinks, counts)
	fmt.Fprintf(env.stderr, "recording %s to %s (%s)\n", s.Describe(), rec.Path(), rec.Codec())
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	start := time.Now()
	st, runErr := s.Run(ctx, sinks...)
	elapsed := time.Since(start)
	closeErr := rec.Close()
	if !o.quiet && term.IsTerminal(env.stderr) {
		fmt.Fprintln(env.stderr) // end the line the progress kept rewriting
	}
	why, truncated := s.StopReason(ctx, st, runErr)
	switch {
	case errors.Is(runErr, capture.ErrSourceLost):
		// The file holds every frame processed up to the loss and is
		// finalized: the recording ends cleanly, not as a failure.
		fmt.Fprintf(env.stderr, "rpscam: %v\nrpscam: the recording is finished and playable up to the loss (--on-source-loss %s)\n", runErr, o.onLoss)
		runErr = nil
	case truncated:
		fmt.Fprintf(env.stderr, "rpscam: warning: %s %s\n", info.Spec, why)
	}
	rec.WriteSummary(env.stdout, st.Frames, st.Dropped)
	fmt.Fprintf(env.stdout, "time: %.1fs (%s), %.1f fps end to end\n", elapsed.Seconds(), why, st.FPS)
	fmt.Fprintf(env.stdout, "predictions: %s\n", counts.String(s.Labels()))
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("finishing %s: %w", rec.Path(), closeErr)
	}
	return nil
}

// annotatedName suggests an output file beside path: name-annotated.ext.
func annotatedName(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-annotated" + ext
}
