package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/pipeline"
)

// StopReason says why Run, given ctx and returning st and runErr, ended,
// for a summary line: "source lost", "failed", "duration reached" (ctx's
// deadline), "interrupted", "frame limit reached", "source ended", or for a
// file that ended well before the frame count its header declares, a
// sentence saying so (truncated is then true: worth a warning).
func (s *Session) StopReason(ctx context.Context, st pipeline.Stats, runErr error) (why string, truncated bool) {
	cfg, info := s.Config(), s.Info()
	switch {
	case errors.Is(runErr, capture.ErrSourceLost):
		return "source lost", false
	case runErr != nil:
		return "failed", false
	case st.Interrupted && errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The deadline's own error, not the elapsed time: a deadline set a
		// moment before Run can leave elapsed short of it by microseconds.
		return "duration reached", false
	case st.Interrupted:
		return "interrupted", false
	case cfg.MaxFrames > 0 && st.Frames == cfg.MaxFrames:
		return "frame limit reached", false
	case !info.Live && info.FrameCount > 0 && st.Frames+1 < info.FrameCount:
		// Containers estimate their count from the duration, so one frame
		// short is rounding; more is a file cut off or damaged.
		return fmt.Sprintf("source ended after %d of the %d frames its header declares: the file is truncated or damaged", st.Frames, info.FrameCount), true
	}
	return "source ended", false
}
