package main

import "errors"

func runBench(env *cliEnv, args []string) error {
	return errors.New("bench: not implemented yet")
}
