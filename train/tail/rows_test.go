package tail

import (
	"encoding/binary"
	"testing"
)

// BenchmarkRowsFillBatch is the cost of filling one training batch (64
// rows of the block_13 recipe's 14x14x96 activations) from each storage:
// a step of that recipe takes about 400 ms (BenchmarkTrainStep), so the
// binary16 decode should stay a small share of it.
func BenchmarkRowsFillBatch(b *testing.B) {
	const n, per = 64, 14 * 14 * 96
	wide, half := make(Float32Rows, n), make(HalfRows, n)
	for i := range n {
		wide[i], half[i] = make([]float32, per), make([]byte, 2*per)
		for k := range per {
			binary.LittleEndian.PutUint16(half[i][2*k:], uint16(0x3c00+(i*per+k)%0x400)) // 1.0 .. 2.0
		}
	}
	dst := make([]float32, n*per)
	for _, c := range []struct {
		name string
		rows Rows
	}{{"float32", wide}, {"binary16", half}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for i := range n {
					c.rows.Row(i, dst[i*per:(i+1)*per])
				}
			}
		})
	}
}
