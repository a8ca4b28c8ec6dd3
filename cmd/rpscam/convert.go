package main

import "errors"

func runConvert(env *cliEnv, args []string) error {
	return errors.New("convert: not implemented yet")
}
