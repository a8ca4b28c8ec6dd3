package train

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train/tail"
)

// TestFineTuneSummaryCounts checks the tutorial-style summary's trainable and
// frozen counts for each --tune against the real backbone.
func TestFineTuneSummaryCounts(t *testing.T) {
	b, err := model.LoadBackbone(model.DefaultTFLitePath(sharedtest.Dir(t, model.DefaultTFLitePath("", model.WeightsTF2)), model.WeightsTF2))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tune, trainable, frozen string
	}{
		// Conv_1: 320*1280 + 1280 = 410,880, plus the head's 3,843.
		{"conv1", "Trainable params: 414,723", "Non-trainable params: 1,795,936"},
		// block_16: expand 160*960+960, depthwise 9*960+960, project 960*320+320 = 471,680 more.
		{"block16", "Trainable params: 886,403", "Non-trainable params: 1,324,256"},
		// block_15: expand 160*960+960, depthwise 9*960+960, project 960*160+160 = 317,920 more.
		{"block15", "Trainable params: 1,204,323", "Non-trainable params: 1,006,336"},
		// block_14: the same shapes as block_15, 317,920 more.
		{"block14", "Trainable params: 1,522,243", "Non-trainable params: 688,416"},
		// block_13: expand 96*576+576, depthwise 9*576+576, project 576*160+160 = 153,952 more.
		{"block13", "Trainable params: 1,676,195", "Non-trainable params: 534,464"},
	} {
		layers, _, _, err := tail.Tune(c.tune)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		printFineTuneSummary(&out, b, layers, 3843, 0.2)
		s := out.String()
		for _, want := range []string{c.trainable, c.frozen, "Total params: 2,210,659"} {
			if !strings.Contains(s, want) {
				t.Errorf("--tune %s summary lacks %q:\n%s", c.tune, want, s)
			}
		}
	}
}

func TestOversampleText(t *testing.T) {
	by := map[string]int{"sxsw": 2, "drgfreeman": 3}
	if got, want := oversampleText(by, " --oversample ", "", ""), " --oversample drgfreeman=3 --oversample sxsw=2"; got != want {
		t.Errorf("reproduce flags %q, want %q", got, want)
	}
	if got, want := oversampleText(by, "", ", ", " oversampled; "), "drgfreeman=3, sxsw=2 oversampled; "; got != want {
		t.Errorf("recipe text %q, want %q", got, want)
	}
	if got := oversampleText(nil, "x", "y", "z"); got != "" {
		t.Errorf("no oversampling gives %q, want empty", got)
	}
}
