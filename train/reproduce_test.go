package train

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestReproduceLine: the main flags always, at their values; every other
// flag the run set unless it only says where files go; values a shell
// would split quoted; a bool turned off spelt out.
func TestReproduceLine(t *testing.T) {
	fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArray("source", nil, "")
	fs.Uint64("seed", 2, "")
	fs.Float64("lr", 0.001, "")
	fs.Bool("balance-classes", true, "")
	fs.String("weights", "", "")
	fs.String("cache", "models/cache", "")
	fs.Int("views", 12, "")
	fs.Int("batch", 64, "")
	args := []string{"--source", "mine=/photos/it's mine", "--source", "b=/x", "--lr", "0.0005", "--balance-classes=false", "--cache", "/tmp/c", "--batch", "64"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	got := ReproduceLine(fs, map[string]string{"weights": "tf2"}, "weights", "seed", "views")
	want := `rpscam train --weights tf2 --seed 2 --views 12 --source 'mine=/photos/it'\''s mine' --source b=/x --lr 0.0005 --balance-classes=false --batch 64`
	if got != want {
		t.Errorf("reproduce line\n got %s\nwant %s", got, want)
	}
}
