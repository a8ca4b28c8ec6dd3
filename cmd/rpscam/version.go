package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
)

// rpscamVersion is the release; builds from a checkout add the commit.
const rpscamVersion = "0.1.0-dev"

type versionReport struct {
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

func runVersion(env *cliEnv, args []string) error {
	return exitError(version(env, args))
}

func version(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "version", "[flags]",
		"rpscam version",
		"rpscam version --json",
		"rpscam version --ort-lib /opt/onnxruntime-gpu/lib/libonnxruntime.so")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default $"+ort.EnvVar+", then .deps/ from scripts/setup.sh)")
	asJSON := fs.Bool("json", false, "write the versions as one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version takes no arguments, got %q", fs.Args())
	}
	r := versionReport{
		Rpscam:   rpscamVersion,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
		OpenCV:   gocv.OpenCVVersion(),
		GoCV:     gocv.Version(),
	}
	r.Commit = buildCommit()
	ortErr := r.findRuntime(*ortLib)
	if ortErr != nil {
		r.ORTError = ortErr.Error()
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.print(env, ortErr == nil)
	}
	// Everything that could be printed was; a missing library still makes
	// the exit code say the setup is incomplete.
	return ortErr
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
func (r *versionReport) findRuntime(ortLib string) error {
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

func (r *versionReport) print(env *cliEnv, haveORT bool) {
	v := r.Rpscam
	if r.Commit != "" {
		v += " (" + r.Commit + ")"
	}
	fmt.Fprintf(env.stdout, "rpscam        %s\n", v)
	fmt.Fprintf(env.stdout, "Go            %s %s\n", r.Go, r.Platform)
	fmt.Fprintf(env.stdout, "OpenCV        %s (gocv %s)\n", r.OpenCV, r.GoCV)
	if haveORT {
		fmt.Fprintf(env.stdout, "ONNX Runtime  %s (%s)\n", r.ONNXRuntime, r.ORTLibrary)
		fmt.Fprintf(env.stdout, "providers     %s (compiled in; whether CUDA works shows when a model loads)\n", joinNonEmpty(", ", r.Providers...))
	} else {
		fmt.Fprintf(env.stdout, "ONNX Runtime  unavailable\n")
	}
}
