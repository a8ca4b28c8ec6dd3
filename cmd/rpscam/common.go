package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/internal/ort"
)

// newFlagSet makes a subcommand's flag set whose --help shows the usage line,
// the flags and worked examples.
func newFlagSet(env *cliEnv, name, usage string, examples ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: rpscam %s %s\n\nFlags:\n%s", name, usage, fs.FlagUsages())
		if len(examples) > 0 {
			fmt.Fprintf(out, "\nExamples:\n  %s\n", strings.Join(examples, "\n  "))
		}
	}
	return fs
}

// parseFlags parses args, turning flag mistakes into usage errors (exit 2).
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// isEnvironmentError reports errors caused by the machine rather than the work:
// they exit with code 2 like usage errors, since the user fixes them the same way.
func isEnvironmentError(err error) bool {
	return errors.Is(err, ort.ErrLibrary)
}
