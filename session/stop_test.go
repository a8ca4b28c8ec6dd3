package session

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/pipeline"
)

func TestStopReason(t *testing.T) {
	file := capture.Info{FrameCount: 100}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cases := []struct {
		name      string
		ctx       context.Context
		info      capture.Info
		maxFrames int
		st        pipeline.Stats
		runErr    error
		why       string
		truncated bool
	}{
		{"lost", context.Background(), capture.Info{Live: true}, 0, pipeline.Stats{}, fmt.Errorf("camera: %w", capture.ErrSourceLost), "source lost", false},
		{"failed", context.Background(), file, 0, pipeline.Stats{}, fmt.Errorf("disk full"), "failed", false},
		{"duration", expired, file, 0, pipeline.Stats{Interrupted: true}, nil, "duration reached", false},
		{"interrupted", context.Background(), file, 0, pipeline.Stats{Interrupted: true}, nil, "interrupted", false},
		{"limit", context.Background(), file, 7, pipeline.Stats{Frames: 7}, nil, "frame limit reached", false},
		{"one short is rounding", context.Background(), file, 0, pipeline.Stats{Frames: 99}, nil, "source ended", false},
		{"truncated", context.Background(), file, 0, pipeline.Stats{Frames: 40}, nil, "source ended after 40 of the 100 frames its header declares", true},
	}
	for _, c := range cases {
		s := &Session{cfg: Config{MaxFrames: c.maxFrames}, info: c.info}
		why, truncated := s.StopReason(c.ctx, c.st, c.runErr)
		if !strings.HasPrefix(why, c.why) || truncated != c.truncated {
			t.Errorf("%s: %q, truncated %v; want %q..., %v", c.name, why, truncated, c.why, c.truncated)
		}
	}
}
