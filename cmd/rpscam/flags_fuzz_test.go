package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzRecordFlags runs `rpscam record` in-process with arbitrary
// --duration, --frames, --on-source-loss, --reconnect-timeout and
// --source-timeout values and no --output: whatever the values, the run
// must end with a usage error (exit 2) and a one-line message, never a
// panic and never an attempt to open a camera.
func FuzzRecordFlags(f *testing.F) {
	f.Add("30s", "0", "reconnect", "0", "5s")
	f.Add("-1s", "-3", "stop", "1m", "0")
	f.Add("ten", "1e9", "retry", "-1s", "5")
	f.Add("1h30m", "99999999999999999999", "", "forever", "1ns")
	f.Add("", "", "RECONNECT", "", "")
	f.Fuzz(func(t *testing.T, duration, frames, onLoss, giveUp, sourceTimeout string) {
		var out, errb bytes.Buffer
		code := run(&cliEnv{stdout: &out, stderr: &errb}, []string{"record",
			"--duration=" + duration, "--frames=" + frames, "--on-source-loss=" + onLoss,
			"--reconnect-timeout=" + giveUp, "--source-timeout=" + sourceTimeout})
		if code != exitUsage {
			t.Fatalf("exit %d, want %d (usage: no --output)\nstderr: %s", code, exitUsage, errb.String())
		}
		if msg := errb.String(); !strings.HasPrefix(msg, "rpscam record: ") && !strings.Contains(msg, "Usage: rpscam record") {
			t.Fatalf("stderr %q does not start with the command's name", msg)
		}
		if out.Len() != 0 {
			t.Fatalf("stdout %q: a refused run prints no summary", out.String())
		}
	})
}
