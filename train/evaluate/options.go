package evaluate

import (
	"fmt"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/internal/shareddata"
)

// Options are what rpscam eval scores and how it reports it.
type Options struct {
	// What to score: Dirs, or with PerSource every source (each of Dirs,
	// each subfolder of SourcesIn); Validation or Tests instead read the
	// shared folder (Shared: the --shared flag, "" for the usual lookup).
	Dirs, SourcesIn   []string
	PerSource, Tests  bool
	Validation        bool
	HeldOut           bool
	Shared            string
	SplitSeed         uint64
	ValFraction       float64
	Threshold, Target float64

	// How to report it.
	Model, Precision   string // the model scored and the build chosen, for the header and JSON
	Worst, Samples     int
	ConfusionPNG, JSON string // files to write ("" none; JSON "-": stdout)
}

// Images lists what to score: the validation split, the --data folders, or
// with PerSource every source's folder, each image tagged with its source.
// dirs name the folders for the report's header.
func (o *Options) Images() (imgs []Image, dirs []string, sources []Source, err error) {
	if o.Validation || o.Tests {
		shared, err := shareddata.Dir(o.Shared)
		if err != nil {
			return nil, nil, nil, err
		}
		if o.Tests {
			return TestImages(shared)
		}
		imgs, dirs, err = ValidationImages(shared, o.SplitSeed, o.ValFraction)
		return imgs, dirs, nil, err
	}
	if !o.PerSource {
		for _, dir := range o.Dirs {
			list, err := capture.ListImages(dir)
			if err != nil {
				return nil, nil, nil, &DataError{err}
			}
			kept, err := o.keep(list, "", dir)
			if err != nil {
				return nil, nil, nil, err
			}
			imgs = append(imgs, kept...)
		}
		return imgs, o.Dirs, nil, nil
	}
	if sources, err = listSources(o.SourcesIn, o.Dirs); err != nil {
		return nil, nil, nil, err
	}
	for _, s := range sources {
		list, err := sourceImages(s)
		if err != nil {
			return nil, nil, nil, err
		}
		kept, err := o.keep(list, s.Name, s.Dir)
		if err != nil {
			return nil, nil, nil, err
		}
		imgs = append(imgs, kept...)
		dirs = append(dirs, s.Dir)
	}
	return imgs, dirs, sources, nil
}

// keep applies HeldOut to the images listed from dir and tags them with
// their per-source row.
func (o *Options) keep(list []capture.LabeledImage, group, dir string) ([]Image, error) {
	if !o.HeldOut {
		return tag(list, group, nil), nil
	}
	// Which folders are hold-out sources is only known from where the
	// shared folder is.
	shared, err := shareddata.Dir(o.Shared)
	if err != nil {
		return nil, fmt.Errorf("--heldout: %w", err)
	}
	heldOut, err := heldOutRule(shared, dir)
	if err != nil {
		return nil, err
	}
	return tag(list, group, heldOut), nil
}

// part names the images scored for the header line (a per-source table is
// never the validation split: rpscam eval refuses the pair).
func (o *Options) part() string {
	if o.Validation {
		return fmt.Sprintf(" (validation split, split seed %d, fraction %g)", o.SplitSeed, o.ValFraction)
	}
	if o.HeldOut {
		return " (held-out part)"
	}
	return ""
}
