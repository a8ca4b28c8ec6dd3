package main

import (
	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer/imagefiles"
	"github.com/rpscam/rpscam/session"
)

func runClassify(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "classify", "[flags] IMAGE|FOLDER...",
		"rpscam classify hand1.jpg hand2.png",
		"rpscam classify ../shared/data/rps-cgi/test          # class folders: prints Actual/Predicted and the accuracy",
		"rpscam classify --json photos/ > results.json",
		"rpscam classify --roi 0,0,300,300 --threshold 0.8 shot.png")
	mf := newSessionFlags(fs).addModelFlags(false)
	asJSON := fs.Bool("json", false, "write one JSON object with every result on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("give at least one image file or folder, e.g. rpscam classify hand.jpg")
	}
	cfg, err := mf.modelConfig(env)
	if err != nil {
		return err
	}
	imgs, err := capture.ListImages(fs.Args()...)
	if err != nil {
		return usageError{err}
	}
	cls, err := session.LoadModel(cfg)
	if err != nil {
		return err
	}
	defer cls.Close()
	o := imagefiles.Options{ROI: cfg.ROI, Threshold: cfg.Threshold, Model: cfg.Model, Precision: cfg.Precision, Log: env.stderr}
	if !*asJSON {
		o.Text = env.stdout
	}
	rep, err := imagefiles.ClassifyAll(cls, imgs, o)
	if *asJSON {
		if err := encodeJSON(env.stdout, rep); err != nil {
			return err
		}
	} else {
		rep.WriteSummary(env.stdout)
	}
	return err
}
