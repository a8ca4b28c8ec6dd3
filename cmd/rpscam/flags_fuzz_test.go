package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseSize: any --size value is a size in the documented bounds or a
// usage error that shows the expected form.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"640x480", "1280X720", "16x16", "7680x4320", "15x16", "7681x4320", "x", "640x", "x480", "640*480", "-640x-480", "0x0", "640x480x3", " 640x480", "99999999999999999999x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := parseSize(s)
		if err != nil {
			if !isUsage(err) || !strings.Contains(err.Error(), "WIDTHxHEIGHT") {
				t.Fatalf("parseSize(%q): %v is not a usage error showing the form", s, err)
			}
			return
		}
		if w < 16 || h < 16 || w > 7680 || h > 4320 {
			t.Fatalf("parseSize(%q) = %dx%d, outside 16x16..7680x4320", s, w, h)
		}
	})
}

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

func isUsage(err error) bool {
	_, ok := err.(usageError)
	return ok
}
