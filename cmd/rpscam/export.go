package main

import "errors"

func runExport(env *cliEnv, args []string) error {
	return errors.New("export: not implemented yet")
}
