package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/model"
)

func runConvert(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "convert", "[flags]",
		"rpscam convert                                  # default weights -> models/mobilenet_v2_backbone.onnx",
		"rpscam convert --weights slim --out /tmp/slim.onnx",
		"rpscam convert --imagenet-head --out /tmp/mobilenet_v2_imagenet.onnx   # 1001-class model, to check the conversion",
		"RPSCAM_SHARED=/data/shared rpscam convert")
	w := addWeightsFlags(fs)
	out := fs.String("out", "models/mobilenet_v2_backbone.onnx", "ONNX file to write")
	imagenet := fs.Bool("imagenet-head", false, "attach the file's 1001-class ImageNet classifier (output \"probabilities\")")
	labelsPath := fs.String("labels", "", "ImageNet labels for --imagenet-head (default <shared>/models/mobilenet_v2/imagenet_labels.txt)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	b, err := model.LoadChosen(*w)
	if err != nil {
		return err
	}
	var head *model.Params
	if *imagenet {
		if head, err = b.ImageNetHead(*labelsPath); err != nil {
			return err
		}
	}
	m, err := model.BuildONNX(b, head, map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name})
	if err != nil {
		return err
	}
	if err := model.WriteONNX(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "convert: %s (%s, sha256 %s…) -> %s: %d layers, %d parameters, outputs %s\n",
		b.Source.File, b.Source.Weights.Name, b.Source.SHA256[:12], *out, len(b.Layers), b.ParamCount(), outputNames(m.Graph.Outputs))
	return nil
}

// addWeightsFlags binds the flags convert and export share to pick the
// TFLite file.
func addWeightsFlags(fs *pflag.FlagSet) *model.BackboneChoice {
	names := make([]string, 0, 2)
	for _, w := range model.KnownWeights() {
		names = append(names, fmt.Sprintf("%s (%s)", w.Name, w.File))
	}
	c := &model.BackboneChoice{}
	fs.StringVar(&c.File, "tflite", "", "MobileNet-v2 TFLite file (default: <shared>/models/mobilenet_v2/ file chosen by --weights)")
	fs.StringVar(&c.Weights, "weights", "", "which known weights to use: "+strings.Join(names, " or ")+"; default "+model.WeightsTF2.Name)
	fs.StringVar(&c.Shared, "shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared next to the repository)")
	return c
}
