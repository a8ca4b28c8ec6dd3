package main

import "errors"

func runVersion(env *cliEnv, args []string) error {
	return errors.New("version: not implemented yet")
}
