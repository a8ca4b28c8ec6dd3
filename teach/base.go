package teach

import (
	"fmt"

	"github.com/rpscam/rpscam/infer"
)

// modelLabels reads a model's class names.
func modelLabels(path, library string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("teach: no base model given: pass the shipped model, e.g. models/rps_mobilenetv2.onnx")
	}
	c, err := infer.Load(path, infer.WithLibrary(library), infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Labels(), nil
}
