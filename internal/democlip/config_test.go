package democlip

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseSize: any --size value is a size in the documented bounds or a
// *ConfigError (rpscam: a usage error) that shows the expected form.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"640x480", "1280X720", "16x16", "7680x4320", "15x16", "7681x4320", "x", "640x", "x480", "640*480", "-640x-480", "0x0", "640x480x3", " 640x480", "99999999999999999999x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, h, err := ParseSize(s)
		if err != nil {
			if !errors.As(err, new(*ConfigError)) || !strings.Contains(err.Error(), "WIDTHxHEIGHT") {
				t.Fatalf("ParseSize(%q): %v is not a *ConfigError showing the form", s, err)
			}
			return
		}
		if w < 16 || h < 16 || w > 7680 || h > 4320 {
			t.Fatalf("ParseSize(%q) = %dx%d, outside 16x16..7680x4320", s, w, h)
		}
	})
}
