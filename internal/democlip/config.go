package democlip

import (
	"fmt"
	"strconv"
	"strings"
)

// ConfigError is a setting Make cannot follow: the caller's to fix.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ParseSize reads a frame size "WxH" between 16x16 and 7680x4320.
func ParseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 16 || h < 16 || w > 7680 || h > 4320 {
		return 0, 0, &ConfigError{fmt.Errorf("--size %q: want WIDTHxHEIGHT between 16x16 and 7680x4320, e.g. 640x480", s)}
	}
	return w, h, nil
}

// Check refuses counts and rates Make cannot use.
func (c Config) Check() error {
	if c.PerImage < 1 || c.Images < 1 || !(c.FPS > 0 && c.FPS <= 240) {
		return &ConfigError{fmt.Errorf("--per-image and --images must be at least 1, --fps in (0, 240]")}
	}
	return nil
}
