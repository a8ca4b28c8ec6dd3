package main

import (
	"errors"

	"github.com/rpscam/rpscam/teach"
)

func teachCapture(env *cliEnv, mf *modelFlags, sf *sourceFlags, o *teachOpts, cfg *teach.Config) error {
	return errors.New("capture not implemented yet")
}
