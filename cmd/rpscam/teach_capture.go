package main

import (
	"fmt"
	"strings"

	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/sink"
	"github.com/rpscam/rpscam/teach"
)

// teachCapture records --frames-per-class frames of each class from the
// source into the samples folder, prompting in the window (when there is a
// display) and on the terminal. Samples saved before an interruption are
// kept.
func teachCapture(env *cliEnv, sf *sessionFlags, plan teach.Plan, cfg *teach.Config) error {
	ctx, stop := signalContext()
	defer stop()
	s, err := sf.open(env)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(cfg.Classes) == 0 {
		cfg.Classes = s.Labels()
	}
	samples, err := teach.OpenSamples(cfg.Samples, cfg.Classes)
	if err != nil {
		return usageError{err}
	}
	rec, err := teach.NewRecorder(samples, s.Models()[0].Contract())
	if err != nil {
		return err
	}
	defer rec.Close()
	plan.Classes = cfg.Classes
	capt, err := teach.NewCapture(rec, plan, func(line string) { fmt.Fprintln(env.stderr, "teach:", line) })
	if err != nil {
		return usageError{err}
	}
	defer capt.Close()
	sinks := []pipeline.Sink{capt}
	fmt.Fprintf(env.stderr, "teach: %s\nteach: samples go to %s (%s)\n", s.Describe(), samples.Dir(), strings.Join(cfg.Classes, ", "))
	if noDisplay := sink.DisplayAvailable(); noDisplay != nil {
		fmt.Fprintln(env.stderr, "teach: no display, prompts on the terminal only")
	} else {
		info := s.Info()
		win, err := sink.NewWindow("rpscam teach", info.Width, info.Height)
		if err != nil {
			return err
		}
		defer win.Close()
		lw := sink.NewLiveWindow(ctx, win, s.Annotator(), ".", info.FPS, env.stderr)
		defer lw.Close()
		sinks = append(sinks, lw)
	}
	st, err := s.Run(ctx, sinks...)
	if err != nil {
		return err
	}
	if err := capt.Unfinished(st); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "teach: samples in %s: %s\n", samples.Dir(), capt.Tally())
	return nil
}
