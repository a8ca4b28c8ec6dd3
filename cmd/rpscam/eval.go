package main

import "errors"

func runEval(env *cliEnv, args []string) error {
	return errors.New("eval: not implemented yet")
}
