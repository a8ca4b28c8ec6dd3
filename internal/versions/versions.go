// Package versions collects what rpscam version prints: the release and
// commit, Go, OpenCV and gocv, and the ONNX Runtime library found, its
// version and the execution providers compiled into it.
package versions

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
)

// Rpscam is the release; builds from a checkout add the commit.
const Rpscam = "0.1.0-dev"

// Report is the versions, as printed and as JSON.
type Report struct {
	Rpscam      string   `json:"rpscam"`
	Commit      string   `json:"commit,omitempty"`
	Go          string   `json:"go"`
	Platform    string   `json:"platform"`
	OpenCV      string   `json:"opencv"`
	GoCV        string   `json:"gocv"`
	ONNXRuntime string   `json:"onnxruntime,omitempty"`
	ORTLibrary  string   `json:"onnxruntime_library,omitempty"`
	Providers   []string `json:"providers,omitempty"`
	ORTError    string   `json:"onnxruntime_error,omitempty"`
}

// Collect fills the report, looking for ONNX Runtime as ortLib (the
// --ort-lib flag) says. A library that cannot be found or loaded is in
// ORTError and returned, the rest of the report filled all the same.
func Collect(ortLib string) (Report, error) {
	r := Report{
		Rpscam:   Rpscam,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
		OpenCV:   gocv.OpenCVVersion(),
		GoCV:     gocv.Version(),
	}
	r.Commit = buildCommit()
	err := r.findRuntime(ortLib)
	if err != nil {
		r.ORTError = err.Error()
	}
	return r, err
}

// buildCommit is the checkout's commit (12 digits, "+dirty" when modified),
// or "" when the build recorded none.
func buildCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// findRuntime fills the ONNX Runtime library, version and providers.
func (r *Report) findRuntime(ortLib string) error {
	lib, err := ort.FindLibrary(ortLib)
	if err != nil {
		return err
	}
	r.ORTLibrary = lib
	rt, err := ort.Init(lib)
	if err != nil {
		return err
	}
	r.ONNXRuntime = rt.Version()
	if r.Providers, err = infer.AvailableProviders(lib); err != nil {
		return err
	}
	return nil
}

// WriteText prints the report as aligned lines.
func (r *Report) WriteText(w io.Writer) {
	v := r.Rpscam
	if r.Commit != "" {
		v += " (" + r.Commit + ")"
	}
	fmt.Fprintf(w, "rpscam        %s\n", v)
	fmt.Fprintf(w, "Go            %s %s\n", r.Go, r.Platform)
	fmt.Fprintf(w, "OpenCV        %s (gocv %s)\n", r.OpenCV, r.GoCV)
	if r.ORTError == "" {
		fmt.Fprintf(w, "ONNX Runtime  %s (%s)\n", r.ONNXRuntime, r.ORTLibrary)
		fmt.Fprintf(w, "providers     %s (compiled in; whether CUDA works shows when a model loads)\n", joinNonEmpty(", ", r.Providers...))
	} else {
		fmt.Fprintf(w, "ONNX Runtime  unavailable\n")
	}
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
