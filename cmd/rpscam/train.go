package main

import "errors"

func runTrain(env *cliEnv, args []string) error {
	return errors.New("train: not implemented yet")
}
