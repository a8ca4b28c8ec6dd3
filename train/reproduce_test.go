package train

import "testing"

// TestReproduceLine: the main flags always, at their values; every other
// flag the run set unless it only says where files go; values a shell
// would split quoted; a bool turned off spelt out.
func TestReproduceLine(t *testing.T) {
	one := func(name, value string, changed bool) Flag {
		return Flag{Name: name, Values: []string{value}, Changed: changed}
	}
	flags := []Flag{
		{Name: "source", Values: []string{"mine=/photos/it's mine", "b=/x"}, Changed: true},
		one("seed", "2", false),
		one("lr", "0.0005", true),
		{Name: "balance-classes", Values: []string{"false"}, Bool: true, Changed: true},
		one("weights", "", false),
		one("cache", "/tmp/c", true),
		one("views", "12", false),
		one("batch", "64", true),
	}
	got := ReproduceLine(flags, map[string]string{"weights": "tf2"}, "weights", "seed", "views")
	want := `rpscam train --weights tf2 --seed 2 --views 12 --source 'mine=/photos/it'\''s mine' --source b=/x --lr 0.0005 --balance-classes=false --batch 64`
	if got != want {
		t.Errorf("reproduce line\n got %s\nwant %s", got, want)
	}
}
