package main

import "errors"

func runServe(env *cliEnv, args []string) error {
	return errors.New("serve: not implemented yet")
}
