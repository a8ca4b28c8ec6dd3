//go:build matprofile

package session

import (
	"context"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/pipeline"
)

// TestSwapNoLeakedMats swaps models before, during (once refused) and after
// a run with a raw-frame sink, then closes the session: gocv's count of open
// Mats must be back where it started, so every replaced or refused model
// was closed.
// Run with: go test -tags matprofile ./session/
func TestSwapNoLeakedMats(t *testing.T) {
	m := writeTinyModels(t)
	before := gocv.MatProfile.Count()
	s := openOn(t, m, m.three, 2, capturetest.NewFake(64, 48, 40, primaries))
	if err := s.SwapModel(m.four); err != nil {
		t.Fatal(err)
	}
	log := &frameLog{hook: func(a *pipeline.Annotated) {
		switch a.Index {
		case 5:
			if err := s.SwapModel(m.three); err != nil {
				t.Error(err)
			}
		case 10:
			if err := s.SwapModel(m.large); err == nil {
				t.Error("the 16x16 model was swapped in")
			}
		}
	}}
	if st, err := s.Run(context.Background(), log, &rawLog{}); err != nil || st.Frames != 40 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	if err := s.SwapModel(m.four); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if after := gocv.MatProfile.Count(); after != before {
		t.Fatalf("%d Mats open before, %d after: %d leaked", before, after, after-before)
	}
}
