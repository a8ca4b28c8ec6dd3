package tail

import "github.com/rpscam/rpscam/internal/nn"

// Rows are trunk activations, one row of Dims.InputLen() values per view.
// Training copies each row into its batch once an epoch, so the rows may be
// stored more compactly than the float32 the graph takes.
type Rows interface {
	Len() int
	RowLen(i int) int
	// Row writes row i into dst, which holds RowLen(i) values.
	Row(i int, dst []float32)
}

// Float32Rows are rows held as float32.
type Float32Rows [][]float32

func (r Float32Rows) Len() int                 { return len(r) }
func (r Float32Rows) RowLen(i int) int         { return len(r[i]) }
func (r Float32Rows) Row(i int, dst []float32) { copy(dst, r[i]) }

// HalfRows are rows held as IEEE 754 binary16 bits, little-endian bytes at
// any alignment: the activation cache's records, read where they lie in its
// mapped file. Half the memory of float32 (the block_13 recipe's 61,874
// views of 14x14x96 are 2.3 GB instead of 4.7), and, as the cache rounds
// every activation to binary16 before training first reads it, the same
// values.
type HalfRows [][]byte

func (r HalfRows) Len() int                 { return len(r) }
func (r HalfRows) RowLen(i int) int         { return len(r[i]) / 2 }
func (r HalfRows) Row(i int, dst []float32) { nn.HalfBytesToFloat32sInto(dst, r[i]) }
