package main

import "errors"

func runClassify(env *cliEnv, args []string) error {
	return errors.New("classify: not implemented yet")
}
