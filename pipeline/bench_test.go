package pipeline

import (
	"context"
	"testing"
)

// BenchmarkHandOff measures the pipeline's own cost per frame with a trivial
// source, classifier and sink: channels, goroutine switches, copying the
// probabilities and keeping statistics.
func BenchmarkHandOff(b *testing.B) {
	src := &fakeSource{w: 8, h: 8, n: b.N}
	p, err := New(src, &meanColourClassifier{}, WithSinks(SinkFunc(func(*Annotated) error { return nil })))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	st, err := p.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if st.Frames != b.N {
		b.Fatalf("%d frames, want %d", st.Frames, b.N)
	}
}
