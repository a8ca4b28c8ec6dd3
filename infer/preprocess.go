package infer

import (
	"errors"
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// PreprocessVersion names the pixels Preprocessor produces: it changes
// whenever crop, resampling or colour handling change, so that caches of
// model activations computed from earlier pixels (train's feature and
// activation caches) are not reused for the new ones.
//
//	1: linear to a whole multiple of the input size, then area (until 2026-11-29)
//	2: area-average by a whole factor that divides the crop, then linear
const PreprocessVersion = 2

// Preprocessor turns a region of a BGR frame into a model's input pixels:
// crop, resize to the input size (area averaging when shrinking, INTER_LINEAR
// when enlarging; see resize), convert to the model's channel order, then lay out and
// scale per the contract. Its Mats are made once and reused, so steady-state
// calls do not allocate. A Preprocessor is not safe for concurrent use.
type Preprocessor struct {
	c         Contract
	staged    gocv.Mat // whole-multiple intermediate of a large shrink
	resized   gocv.Mat
	converted gocv.Mat
	closed    bool
}

// NewPreprocessor checks the parts of c that preprocessing uses (Width,
// Height, Channels, Layout, Color) and makes the reusable Mats. Pass the
// Contract of a loaded Classifier or BatchRunner, which has the defaults
// filled in; a hand-made Contract used with IntoFloat32 must set Scale (a zero
// Scale maps every pixel to Offset).
func NewPreprocessor(c Contract) (*Preprocessor, error) {
	if c.Width < 1 || c.Height < 1 {
		return nil, fmt.Errorf("infer: preprocessor input size %dx%d: width and height must be positive", c.Width, c.Height)
	}
	if c.Channels != 1 && c.Channels != 3 {
		return nil, fmt.Errorf("infer: preprocessor channels %d: want 3 (colour) or 1 (grey)", c.Channels)
	}
	if c.Layout != NHWC && c.Layout != NCHW {
		return nil, fmt.Errorf("infer: preprocessor layout %q: want %s or %s", c.Layout, NHWC, NCHW)
	}
	if c.Channels == 3 && c.Color != RGB && c.Color != BGR {
		return nil, fmt.Errorf("infer: preprocessor colour order %q: want %s or %s", c.Color, RGB, BGR)
	}
	return &Preprocessor{c: c, staged: gocv.NewMat(), resized: gocv.NewMat(), converted: gocv.NewMat()}, nil
}

// Size is the number of input elements one image takes (H*W*channels).
func (p *Preprocessor) Size() int { return p.c.Width * p.c.Height * p.c.Channels }

// IntoUint8 writes the region's pixels as uint8 NHWC (H*W*channels bytes, in
// the contract's channel order) into dst, which must have exactly Size()
// elements. This is the format LoadBatchRunner's Run takes. An empty roi
// means the centred crop with the model's aspect ratio (CentreSquare for a
// square input).
func (p *Preprocessor) IntoUint8(bgr gocv.Mat, roi image.Rectangle, dst []uint8) error {
	if len(dst) != p.Size() {
		return fmt.Errorf("infer: IntoUint8 destination has %d elements, want %d (%dx%dx%d)", len(dst), p.Size(), p.c.Height, p.c.Width, p.c.Channels)
	}
	src, err := p.prepare(bgr, roi)
	if err != nil {
		return err
	}
	copy(dst, src)
	return nil
}

// IntoFloat32 writes the region's pixels as float32 in the contract's layout
// (NHWC or NCHW) and channel order, each value pixel*Scale[c]+Offset[c], into
// dst, which must have exactly Size() elements.
func (p *Preprocessor) IntoFloat32(bgr gocv.Mat, roi image.Rectangle, dst []float32) error {
	if len(dst) != p.Size() {
		return fmt.Errorf("infer: IntoFloat32 destination has %d elements, want %d (%dx%dx%d)", len(dst), p.Size(), p.c.Height, p.c.Width, p.c.Channels)
	}
	src, err := p.prepare(bgr, roi)
	if err != nil {
		return err
	}
	writeFloat32(&p.c, src, dst)
	return nil
}

// Close releases the Mats. It is safe to call more than once.
func (p *Preprocessor) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.staged.Close()
	p.resized.Close()
	p.converted.Close()
	return nil
}

var errPreprocessorClosed = errors.New("infer: preprocessor used after Close")

// prepare crops, resizes and colour-converts; the returned bytes are NHWC in
// the model's channel order and belong to one of p's Mats (valid until the
// next call).
func (p *Preprocessor) prepare(frame gocv.Mat, roi image.Rectangle) ([]uint8, error) {
	if p.closed {
		return nil, errPreprocessorClosed
	}
	if frame.Empty() {
		return nil, errors.New("infer: empty frame: the capture returned no image")
	}
	fw, fh := frame.Cols(), frame.Rows()
	if roi.Empty() {
		roi = centreCrop(fw, fh, p.c.Width, p.c.Height)
	} else if err := CheckROI(roi, fw, fh); err != nil {
		return nil, err
	}
	code, convert, err := colorConversion(frame.Type(), p.c)
	if err != nil {
		return nil, err
	}
	region := frame.Region(roi)
	p.resize(region, roi.Size())
	region.Close()
	out := &p.resized
	if convert {
		gocv.CvtColor(p.resized, &p.converted, code)
		out = &p.converted
	}
	return out.DataPtrUint8()
}

// resize scales src (of size from) to the input size into p.resized:
// INTER_AREA when shrinking, INTER_LINEAR when enlarging. OpenCV's INTER_AREA
// is fast only for whole-number factors (a 480->224 shrink takes 1 ms, 480->240
// 0.05 ms), so a shrink by a factor of 2 or more is done in two steps that
// both see every pixel:
//
//   - when a whole factor k >= 2 divides the crop and leaves it at least the
//     input size, area-average k x k blocks, then interpolate linearly the
//     remaining factor, which is under 2 (measured faster; README,
//     Performance);
//   - otherwise interpolate linearly to the nearest whole multiple of the
//     input size, then area-average.
func (p *Preprocessor) resize(src gocv.Mat, from image.Point) {
	to := image.Point{X: p.c.Width, Y: p.c.Height}
	if from.X < to.X || from.Y < to.Y {
		gocv.Resize(src, &p.resized, to, 0, 0, gocv.InterpolationLinear)
		return
	}
	kx, ky := from.X/to.X, from.Y/to.Y
	if kx < 2 || ky < 2 || (from.X%to.X == 0 && from.Y%to.Y == 0) {
		gocv.Resize(src, &p.resized, to, 0, 0, gocv.InterpolationArea)
		return
	}
	for k := min(kx, ky); k >= 2; k-- {
		if from.X%k == 0 && from.Y%k == 0 {
			gocv.Resize(src, &p.staged, image.Point{X: from.X / k, Y: from.Y / k}, 0, 0, gocv.InterpolationArea)
			gocv.Resize(p.staged, &p.resized, to, 0, 0, gocv.InterpolationLinear)
			return
		}
	}
	gocv.Resize(src, &p.staged, image.Point{X: kx * to.X, Y: ky * to.Y}, 0, 0, gocv.InterpolationLinear)
	gocv.Resize(p.staged, &p.resized, to, 0, 0, gocv.InterpolationArea)
}

// colorConversion picks the conversion from a frame of type t to the model's
// channel order; convert is false when the resized frame is already right.
func colorConversion(t gocv.MatType, c Contract) (code gocv.ColorConversionCode, convert bool, err error) {
	switch t {
	case gocv.MatTypeCV8UC3:
		switch {
		case c.Channels == 1:
			return gocv.ColorBGRToGray, true, nil
		case c.Color == RGB:
			return gocv.ColorBGRToRGB, true, nil
		}
		return 0, false, nil
	case gocv.MatTypeCV8UC4:
		switch {
		case c.Channels == 1:
			return gocv.ColorBGRAToGray, true, nil
		case c.Color == RGB:
			// OpenCV has one code for RGBA->BGR and BGRA->RGB: drop alpha, swap.
			return gocv.ColorRGBAToBGR, true, nil
		}
		return gocv.ColorBGRAToBGR, true, nil
	case gocv.MatTypeCV8UC1:
		if c.Channels == 1 {
			return 0, false, nil
		}
		return gocv.ColorGrayToBGR, true, nil
	}
	return 0, false, fmt.Errorf("infer: frame type %v is not supported: want 8-bit BGR (CV_8UC3), BGRA (CV_8UC4) or grey (CV_8UC1)", t)
}

// writeFloat32 converts NHWC uint8 pixels to the contract's float layout.
func writeFloat32(c *Contract, src []uint8, dst []float32) {
	ch := c.Channels
	if c.Layout == NHWC || ch == 1 {
		for i := 0; i < len(src); i += ch {
			for k := 0; k < ch; k++ {
				dst[i+k] = float32(src[i+k])*c.Scale[k] + c.Offset[k]
			}
		}
		return
	}
	plane := len(src) / ch
	for k := 0; k < ch; k++ {
		s, o := c.Scale[k], c.Offset[k]
		out := dst[k*plane : (k+1)*plane]
		for i := range out {
			out[i] = float32(src[i*ch+k])*s + o
		}
	}
}

// writeUint8 lays NHWC uint8 pixels out in the contract's layout.
func writeUint8(c *Contract, src []uint8, dst []uint8) {
	ch := c.Channels
	if c.Layout == NHWC || ch == 1 {
		copy(dst, src)
		return
	}
	plane := len(src) / ch
	for k := 0; k < ch; k++ {
		out := dst[k*plane : (k+1)*plane]
		for i := range out {
			out[i] = src[i*ch+k]
		}
	}
}

// writeInput fills one image's slot of an input tensor.
func writeInput(c *Contract, src []uint8, u8 []uint8, f32 []float32) {
	if c.Element == Float32 {
		writeFloat32(c, src, f32)
	} else {
		writeUint8(c, src, u8)
	}
}
