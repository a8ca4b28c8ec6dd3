package train

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSourceNames(t *testing.T) {
	srcs := []Source{{Name: "cgi"}, {Name: "sxsw"}}
	if err := checkSourceNames("--oversample", []string{"sxsw"}, srcs); err != nil {
		t.Errorf("a known source: %v", err)
	}
	err := checkSourceNames("--train-share", []string{"cgi", "sxws"}, srcs)
	if err == nil || !strings.Contains(err.Error(), "--train-share sxws: no training source") || !strings.Contains(err.Error(), "sources: cgi, sxsw") {
		t.Errorf("a misspelt source: %v, want an error naming the flag, the name and the sources", err)
	}
}

// TestSettleAppliesHeadDefaults: --mode head takes the head recipe's views
// and class weighting unless given, and refuses fine-tuning-only settings.
func TestSettleAppliesHeadDefaults(t *testing.T) {
	j := Job{Config: DefaultConfig(nil), Mode: "head", FineTune: DefaultFineTune()}
	none := func(string) bool { return false }
	if err := j.Settle(DataRequest{Shares: []string{"sxsw=0.5"}}, none); err != nil {
		t.Fatal(err)
	}
	if j.Views != 4 || j.Fit.BalanceClasses || j.TrainShare["sxsw"] != 0.5 {
		t.Errorf("head defaults: views %d, balance %v, shares %v; want 4, false, sxsw=0.5", j.Views, j.Fit.BalanceClasses, j.TrainShare)
	}
	j = Job{Config: DefaultConfig(nil), Mode: "head"}
	err := j.Settle(DataRequest{}, func(flag string) bool { return flag == "ft-ema" })
	var re *RecipeError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "--ft-ema applies to --mode finetune only") {
		t.Errorf("--ft-ema with --mode head: %v, want a *RecipeError naming the flag", err)
	}
}

// TestSettleChecksMotionBlur: --aug-motion-blur is a share of the views.
func TestSettleChecksMotionBlur(t *testing.T) {
	none := func(string) bool { return false }
	for _, share := range []float64{-0.1, 1.5} {
		j := Job{Config: DefaultConfig(nil), Mode: "finetune", FineTune: DefaultFineTune(), MotionBlur: share}
		err := j.Settle(DataRequest{}, none)
		var re *RecipeError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "--aug-motion-blur") {
			t.Errorf("--aug-motion-blur %g: %v, want a *RecipeError naming the flag", share, err)
		}
	}
	j := Job{Config: DefaultConfig(nil), Mode: "finetune", FineTune: DefaultFineTune(), MotionBlur: 0.25}
	if err := j.Settle(DataRequest{}, none); err != nil {
		t.Errorf("--aug-motion-blur 0.25: %v", err)
	}
}
