//go:build matprofile

package capture_test

import (
	"errors"
	"io"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
)

// TestReconnectingNoLeakedMats: sources lost and reopened, with frames
// released before and after Close, leave no Mat open.
func TestReconnectingNoLeakedMats(t *testing.T) {
	before := gocv.MatProfile.Count()
	opens := 0
	src, err := capture.Reconnecting(func() (capture.Source, error) {
		opens++
		switch {
		case opens < 4 && opens%2 == 0:
			return nil, errors.New("busy")
		case opens < 5:
			return capturetest.FailAfter(capturetest.NewFakeLive(32, 24, 500, nil), 5, nil), nil
		}
		return capturetest.NewFake(32, 24, 3, nil), nil
	}, capture.WithBackoff(fastBackoff))
	if err != nil {
		t.Fatal(err)
	}
	seqs, _, err := readAll(t, src, 0)
	if !errors.Is(err, io.EOF) || len(seqs) < 10 {
		t.Fatalf("%d frames then %v", len(seqs), err)
	}
	src.Close()
	if after := gocv.MatProfile.Count(); after != before {
		t.Fatalf("%d Mats open after the reconnections, %d before", after, before)
	}
}
