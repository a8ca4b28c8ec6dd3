package teach

import (
	"fmt"

	"github.com/rpscam/rpscam/infer"
)

// modelContract reads a model's input contract and class names.
func modelContract(path, library string) (infer.Contract, error) {
	if path == "" {
		return infer.Contract{}, fmt.Errorf("teach: no base model given: pass the shipped model, e.g. models/rps_mobilenetv2.onnx")
	}
	c, err := infer.Load(path, infer.WithLibrary(library), infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		return infer.Contract{}, err
	}
	defer c.Close()
	return c.Contract(), nil
}

// modelLabels reads a model's class names.
func modelLabels(path, library string) ([]string, error) {
	c, err := modelContract(path, library)
	return c.Labels, err
}
