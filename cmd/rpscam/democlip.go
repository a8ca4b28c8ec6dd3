package main

import (
	"fmt"

	"github.com/rpscam/rpscam/internal/democlip"
	"github.com/rpscam/rpscam/internal/shareddata"
)

func runDemoClip(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "democlip", "--out FILE [flags]",
		"rpscam democlip --out out/demo.mp4",
		"rpscam democlip --out out/demo.mp4 --per-image 15 --size 1280x720 --images 60",
		"RPSCAM_SHARED=/data/shared rpscam democlip --out /tmp/demo.avi")
	cfg := democlip.Config{}
	fs.StringVarP(&cfg.Out, "out", "o", "out/demo.mp4", "video to write (.mp4: H.264; .avi: MJPG)")
	shared := fs.String("shared", "", "the shared data folder (default $RPSCAM_SHARED, else ../shared beside the repository)")
	fs.IntVar(&cfg.PerImage, "per-image", 12, "frames each photo is held for")
	size := fs.String("size", "640x480", "frame size WxH")
	fs.IntVar(&cfg.Images, "images", 48, "photos in the clip (rock, paper, scissors and an empty scene in turn)")
	fs.Float64Var(&cfg.FPS, "fps", 30, "frame rate of the clip")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.Width, cfg.Height, err = democlip.ParseSize(*size); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if cfg.Shared, err = shareddata.Dir(*shared); err != nil {
		return err
	}
	res, err := democlip.Make(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s: %d frames (%d photos x %d), %dx%d at %.4g fps, %s; ground truth per frame in %s\n",
		res.Path, res.Frames, res.Photos, cfg.PerImage, cfg.Width, cfg.Height, cfg.FPS, res.Codec, res.TruthPath)
	return nil
}
