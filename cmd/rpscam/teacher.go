package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/serve"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/teach"
)

// taughtModelName is the file, inside the samples folder, that the Teach
// panel's training writes: serve writes nowhere else.
const taughtModelName = "taught.onnx"

// newTeacher opens a teacher on the samples folder for serve's Teach panel
// and live's teach keys: it starts from the fp32 build of the running model
// and swaps into s.
func newTeacher(env *cliEnv, sf *sessionFlags, samples, sharedFlag string, s *session.Session) (*teach.Teacher, error) {
	base, err := sf.baseModel()
	if err != nil {
		return nil, err
	}
	shared, err := shareddata.Dir(sharedFlag)
	if err != nil {
		return nil, err
	}
	cfg := teach.Config{
		Samples: samples, Base: base, Shipped: s.Config().Model, Out: filepath.Join(samples, taughtModelName),
		Shared: shared, Library: s.Config().Library, Log: env.stderr,
	}
	t, err := teach.NewTeacher(cfg, s.SwapModel)
	if err != nil {
		return nil, usagef("--samples: %v", err)
	}
	return t, nil
}

// servedTeacher is package teach's Teacher as the Teach panel wants it.
type servedTeacher struct{ *teach.Teacher }

func (t servedTeacher) Train(ctx context.Context, progress func(serve.TrainProgress)) (*serve.TrainResult, error) {
	res, err := t.Teacher.Train(ctx, func(p teach.Progress) {
		progress(serve.TrainProgress{Stage: p.Stage, Done: p.Done, Total: p.Total, Elapsed: p.Elapsed, ETA: p.ETA})
	})
	var few *teach.SamplesError
	switch {
	case errors.Is(err, teach.ErrBusy):
		return nil, fmt.Errorf("%w: %v", serve.ErrTrainBusy, err)
	case errors.As(err, &few):
		return nil, &serve.TooFewSamplesError{Class: few.Class, Have: few.Have, Need: few.Need}
	case err != nil:
		return nil, err
	}
	return &serve.TrainResult{Before: res.Before, After: res.After, HeldOut: res.HeldOut, Model: res.Model, Took: res.Took}, nil
}

// liveTeachKeys turns on live's teach keys; done stops a training in
// progress and closes the teacher.
func liveTeachKeys(ctx context.Context, env *cliEnv, sf *sessionFlags, samples, shared string, s *session.Session) (*teach.Keys, func(), error) {
	t, err := newTeacher(env, sf, samples, shared, s)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	keys := teach.NewKeys(ctx, t, 0, func(line string) { fmt.Fprintln(env.stderr, "teach:", line) })
	fmt.Fprintln(env.stderr, keys.Help())
	return keys, func() {
		cancel()
		keys.Close()
		t.Close()
	}, nil
}
