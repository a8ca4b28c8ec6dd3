package main

import "errors"

func runRecord(env *cliEnv, args []string) error {
	return errors.New("record: not implemented yet")
}
