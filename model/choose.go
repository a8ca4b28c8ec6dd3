package model

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/internal/tflite"
)

// BackboneChoice names the TFLite file to load: File, or else the known
// weights called Weights ("": Want, else WeightsTF2) in the shared folder.
type BackboneChoice struct {
	File, Weights string
	Shared        string   // the shared data folder; "" finds it (shareddata.Dir)
	Want          *Weights // the weights a caller needs (those params were trained on); nil: any
}

// ChoiceError is a BackboneChoice that cannot be followed (both File and
// Weights, an unknown name, a missing or wrong file): the caller's to fix.
type ChoiceError struct{ Err error }

func (e *ChoiceError) Error() string { return e.Err.Error() }
func (e *ChoiceError) Unwrap() error { return e.Err }

// LoadChosen loads the backbone c names. Errors the caller fixes are a
// *ChoiceError, or wrap shareddata.ErrNotFound.
func LoadChosen(c BackboneChoice) (*Backbone, error) {
	path := c.File
	if path != "" && c.Weights != "" {
		return nil, &ChoiceError{errors.New("pass --tflite or --weights, not both")}
	}
	if path == "" {
		w := WeightsTF2
		if c.Want != nil {
			w = *c.Want
		}
		if c.Weights != "" {
			var err error
			if w, err = WeightsByName(c.Weights); err != nil {
				return nil, &ChoiceError{err}
			}
		}
		dir, err := shareddata.Dir(c.Shared)
		if err != nil {
			return nil, err
		}
		path = DefaultTFLitePath(dir, w)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, &ChoiceError{fmt.Errorf("TFLite weights %s: %v (set --tflite, --shared or RPSCAM_SHARED)", path, errors.Unwrap(err))}
	}
	b, err := LoadBackbone(path)
	if errors.Is(err, ErrUnknownFile) || errors.Is(err, tflite.ErrFormat) {
		// The wrong file was named: the user's to fix, like a bad flag.
		return nil, &ChoiceError{err}
	}
	if err == nil && c.Want != nil && b.Source.Weights.Name != c.Want.Name {
		return nil, &ChoiceError{fmt.Errorf("the params were trained on %s features but %s is %s: drop --tflite/--weights or retrain", c.Want.Name, path, b.Source.Weights.Name)}
	}
	return b, err
}

// TrainedOn is the backbone weights p's features came from; nil when p does
// not say.
func (p *Params) TrainedOn() (*Weights, error) {
	name := p.Meta[MetaBackboneWeights]
	if name == "" {
		return nil, nil
	}
	w, err := WeightsByName(name)
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// ImageNetHead is ImageNetParams with the labels read from labelsPath, one
// a line ("": imagenet_labels.txt beside the TFLite file). An unreadable
// file is a *ChoiceError.
func (b *Backbone) ImageNetHead(labelsPath string) (*Params, error) {
	if labelsPath == "" {
		labelsPath = filepath.Join(filepath.Dir(b.Source.Path), "imagenet_labels.txt")
	}
	data, err := os.ReadFile(labelsPath)
	if err != nil {
		return nil, &ChoiceError{fmt.Errorf("reading ImageNet labels: %v (pass --labels)", err)}
	}
	var labels []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		labels = append(labels, strings.TrimRight(sc.Text(), "\r"))
	}
	return b.ImageNetParams(labels)
}
