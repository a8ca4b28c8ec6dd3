// Command rpscam classifies rock, paper and scissors hand gestures in live
// video. main only wires subcommands to their packages; each subcommand lives
// in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// Exit codes, the same for every subcommand.
const (
	exitOK      = 0
	exitFailure = 1 // the work itself failed
	exitUsage   = 2 // bad flags or an unusable environment (no display, no camera, no library)
)

// command is one subcommand. run gets the arguments after the subcommand name.
type command struct {
	summary string
	run     func(env *cliEnv, args []string) error
}

// cliEnv is what a subcommand may touch of the process: its streams and the
// signal-aware context are passed in, never read from globals, so tests can
// run subcommands in-process.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"live":     {"show the camera with the predicted gesture in a window", runLive},
		"record":   {"write an annotated video of any source", runRecord},
		"bench":    {"measure per-stage latency and frames per second", runBench},
		"classify": {"classify image files and folders", runClassify},
		"serve":    {"serve the annotated stream, predictions and metrics over HTTP", runServe},
		"train":    {"train the gesture model by transfer learning", runTrain},
		"eval":     {"measure the model's accuracy on labelled folders", runEval},
		"convert":  {"convert the MobileNet-v2 TFLite weights into an ONNX backbone", runConvert},
		"teach":    {"capture your own examples and retrain the model on them in seconds", runTeach},
		"export":   {"assemble the ONNX model from the backbone and trained parameters", runExport},
		"quantize": {"make the int8 model (post-training static quantization) and compare it with the float one", runQuantize},
		"democlip": {"make a demo video from labelled images", runDemoClip},
		"version":  {"print versions of rpscam, Go, OpenCV, ONNX Runtime and its providers", runVersion},
	}
}

// usageError marks errors that are the caller's to fix (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(env, os.Args[1:]))
}

func run(env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 2 && args[0] == "help" {
		if _, ok := cmds[args[1]]; ok {
			args = []string{args[1], "--help"} // rpscam help record = rpscam record --help
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.stdout, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "rpscam: unknown command %q\n", args[0])
		printUsage(env.stderr, cmds)
		return exitUsage
	}
	err := exitError(cmd.run(env, args[1:]))
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	default:
		fmt.Fprintf(env.stderr, "rpscam %s: %v\n", args[0], err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return exitFailure
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "rpscam — real-time rock/paper/scissors gesture classifier")
	fmt.Fprintln(w, "\nUsage: rpscam <command> [flags]   (rpscam <command> --help for its flags and examples)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
}

// signalContext is cancelled by SIGINT (Ctrl-C) or SIGTERM. A second signal
// kills the process the default way, for a user whose source hangs, but
// only from a second after the first on: within it, repeats are the same
// request to stop delivered twice (`timeout` and process managers signal
// both the process and its group) and would kill the process while it
// finishes its files.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-signals:
		case <-done:
			return
		}
		cancel()
		select {
		case <-time.After(repeatSignalGrace):
		case <-done:
		}
		signal.Stop(signals) // default handling again: the next Ctrl-C ends the process
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			close(done)
			signal.Stop(signals)
			cancel()
		})
	}
}

// repeatSignalGrace is how long after the first Ctrl-C another one is taken
// as the same request rather than as "quit now".
const repeatSignalGrace = time.Second
