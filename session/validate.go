package session

import "fmt"

// maxWorkers is the most model instances a Config may ask for.
const maxWorkers = 16

// Validate refuses settings out of range before anything is opened; Open
// calls it. Errors are a *ConfigError.
func (c Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(field+" "+format, a...)}
	}
	switch {
	case c.Workers < 0 || c.Workers > maxWorkers:
		return bad("workers", "%d is outside 0 (auto)..%d", c.Workers, maxWorkers)
	case c.Threads < 0:
		return bad("threads", "%d is negative: use 0 for ONNX Runtime's default or a positive count", c.Threads)
	case !(c.Threshold >= 0 && c.Threshold <= 1):
		return bad("threshold", "%v is outside 0..1", c.Threshold)
	case (c.Width == 0) != (c.Height == 0) || c.Width < 0 || c.Height < 0:
		return bad("width", "%d and height %d: give both, positive, or neither", c.Width, c.Height)
	case !(c.FPS >= 0 && c.FPS <= 1000):
		return bad("fps", "%v is outside 0 (the camera's default)..1000", c.FPS)
	case c.SourceTimeout < 0:
		return bad("source-timeout", "%v is negative: give how long a silent camera is waited for, e.g. 5s", c.SourceTimeout)
	case c.GiveUp < 0:
		return bad("reconnect-timeout", "%v is negative: give how long to keep trying, or 0 for no limit", c.GiveUp)
	case c.MaxFrames < 0 || c.Warmup < 0:
		return bad("frames", "%d and warm-up %d: neither may be negative", c.MaxFrames, c.Warmup)
	}
	return nil
}
