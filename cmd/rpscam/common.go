package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/democlip"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/quantize"
	"github.com/rpscam/rpscam/serve"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/sink"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// newFlagSet makes a subcommand's flag set whose --help shows the usage line,
// the flags and worked examples.
func newFlagSet(env *cliEnv, name, usage string, examples ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: rpscam %s %s\n\nFlags:\n%s", name, usage, fs.FlagUsages())
		if len(examples) > 0 {
			fmt.Fprintf(out, "\nExamples:\n  %s\n", strings.Join(examples, "\n  "))
		}
	}
	return fs
}

// parseFlags parses args, turning flag mistakes into usage errors (exit 2).
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// classifyEnvError reports errors caused by the machine, its setup or a
// setting a library refused (a recipe, a weights choice) rather than by the
// work: they exit with code 2 like usage errors, since the user fixes them
// the same way, before anything ran.
//
// Exit code 2 (usage or environment, fix and rerun): bad flags or arguments,
// an ROI outside the frame, no camera or an unreadable source, no display for
// live, a missing or unusable model file, no ONNX Runtime library or one of
// the wrong version, --device cuda without CUDA, an output that cannot be
// created, a port in use, an empty image folder.
//
// Exit code 1 (the work failed after it started): a source that broke
// mid-run with --on-source-loss reconnect given up, a recording whose disk
// filled or whose file vanished, inference or encoding errors.
func classifyEnvError(err error) bool {
	return errors.Is(err, ort.ErrLibrary) ||
		errors.Is(err, capture.ErrSourceUnavailable) ||
		errors.Is(err, infer.ErrCUDAUnavailable) ||
		errors.Is(err, sink.ErrNoDisplay) ||
		errors.Is(err, sink.ErrUnwritable) ||
		errors.Is(err, infer.ErrModelMissing) ||
		errors.Is(err, infer.ErrNoInt8Model) ||
		errors.Is(err, shareddata.ErrNotFound) ||
		errors.As(err, new(*infer.ModelError)) ||
		errors.As(err, new(*infer.ChoiceError)) ||
		errors.As(err, new(*train.RecipeError)) ||
		errors.As(err, new(*model.ChoiceError)) ||
		errors.As(err, new(*evaluate.DataError)) ||
		errors.As(err, new(*serve.AddrError)) ||
		errors.As(err, new(*democlip.ConfigError))
}

// exitError turns environment errors into usage errors, so they exit with
// code 2, and a session or quantize ConfigError into one naming its flag.
func exitError(err error) error {
	var ce *session.ConfigError
	var qe *quantize.ConfigError
	switch {
	case errors.As(err, &ce):
		return usageError{fmt.Errorf("--%w", ce.Err)}
	case errors.As(err, &qe):
		return usageError{fmt.Errorf("--%w", qe)}
	case err != nil && classifyEnvError(err) && !errors.As(err, new(usageError)):
		return usageError{err}
	}
	return err
}

// encodeJSON writes v to w as indented JSON.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// probeWrite creates and removes a file in dir, saying why it could not:
// permission bits do not say it all (a read-only mount, root, ACLs), so
// creating a file is the test that holds.
func probeWrite(dir string) error {
	probe, err := os.CreateTemp(dir, ".rpscam-write-check-*")
	if err != nil {
		if u := errors.Unwrap(err); u != nil {
			return u // the reason, without the temporary name
		}
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}
