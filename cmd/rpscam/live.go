package main

import "errors"

func runLive(env *cliEnv, args []string) error {
	return errors.New("live: not implemented yet")
}
