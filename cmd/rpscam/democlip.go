package main

import "errors"

func runDemoClip(env *cliEnv, args []string) error {
	return errors.New("democlip: not implemented yet")
}
