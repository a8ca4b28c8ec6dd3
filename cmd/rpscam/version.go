package main

import (
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/versions"
)

func runVersion(env *cliEnv, args []string) error {
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
	r, ortErr := versions.Collect(*ortLib)
	if *asJSON {
		if err := encodeJSON(env.stdout, r); err != nil {
			return err
		}
	} else {
		r.WriteText(env.stdout)
	}
	// Everything that could be printed was; a missing library still makes
	// the exit code say the setup is incomplete.
	return ortErr
}
