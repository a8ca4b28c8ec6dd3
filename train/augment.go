package train

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"gocv.io/x/gocv"
)

// AugmentConfig sets how far each augmentation goes. The ranges aim at the
// gap between the training photos (studio renders on white, green-screen
// photos from above, phone crops) and an ordinary webcam frame: the hand at
// other sizes and places in the frame, tilted, mirrored, under other light
// and white balance, blurred, in another room, through a lossy encoder.
type AugmentConfig struct {
	ScaleMin, ScaleMax float64 // hand size relative to the source crop (< 1 zooms out)
	MaxShift           float64 // translation, fraction of the side
	MaxRotate          float64 // degrees either way
	FlipP              float64 // horizontal mirror (left and right hands)
	Brightness         float64 // additive, fraction of 255, either way
	Contrast           float64 // multiplicative, either way around 1
	Saturation         float64 // multiplicative, either way around 1
	Hue                float64 // shift in degrees, either way
	ChannelGain        float64 // per-channel gain (white balance), either way around 1
	SwapRBP            float64 // probability of RGB/BGR order mix-up
	GrayP              float64 // probability of greyscale
	BlurP, BlurSigma   float64 // probability and max sigma of a Gaussian blur
	NoiseSigma         float64 // max per-pixel Gaussian noise, in 0..255 units
	JPEGP              float64 // probability of a JPEG round trip
	JPEGMin, JPEGMax   int     // its quality range
	BackgroundP        float64 // probability of replacing a white or green background
	// LowLightP is the probability of a dim-room view: a gamma curve up to
	// LowLightGamma darkens the mid-tones and shadows (where dark skin in a
	// dim room sits) more than the highlights, as an underexposed webcam
	// does; 0 leaves it off (records before it read so).
	LowLightP     float64 `json:",omitempty"`
	LowLightGamma float64 `json:",omitempty"`
	// MotionBlurP is the probability of a motion-blurred view: a hand that
	// moves while the webcam's shutter is open smears along a line (the
	// frames real webcam collections hold between poses), which a round
	// Gaussian blur does not draw. The line runs at a random angle, up to
	// MotionBlurLen of the side long; 0 leaves it off and draws nothing
	// from the random stream (records before it read so).
	MotionBlurP   float64 `json:",omitempty"`
	MotionBlurLen float64 `json:",omitempty"`
}

// DefaultMotionBlurLen is the longest smear (share of the side) of rpscam
// train --aug-motion-blur: 0.15, as measured in the model card.
const DefaultMotionBlurLen = 0.15

// DefaultAugment is the recipe rpscam train uses.
func DefaultAugment() AugmentConfig {
	return AugmentConfig{
		ScaleMin: 0.65, ScaleMax: 1.15, MaxShift: 0.12, MaxRotate: 25, FlipP: 0.5,
		Brightness: 0.2, Contrast: 0.3, Saturation: 0.5, Hue: 12, ChannelGain: 0.15,
		SwapRBP: 0.1, GrayP: 0.05, BlurP: 0.3, BlurSigma: 2.0, NoiseSigma: 6,
		JPEGP: 0.5, JPEGMin: 30, JPEGMax: 90, BackgroundP: 0.8,
		LowLightP: 0.25, LowLightGamma: 2.2,
	}
}

func (c AugmentConfig) validate() error {
	switch {
	case c.ScaleMin <= 0 || c.ScaleMax < c.ScaleMin:
		return fmt.Errorf("scale range [%g, %g] invalid: need 0 < min <= max", c.ScaleMin, c.ScaleMax)
	case c.JPEGP > 0 && (c.JPEGMin < 1 || c.JPEGMax > 100 || c.JPEGMin > c.JPEGMax):
		return fmt.Errorf("JPEG quality range [%d, %d] invalid: need 1 <= min <= max <= 100", c.JPEGMin, c.JPEGMax)
	case c.Contrast >= 1 || c.Saturation > 1 || c.ChannelGain >= 1:
		return errors.New("contrast, saturation and channel-gain ranges must be below 1 so factors stay positive")
	case c.LowLightP > 0 && c.LowLightGamma <= 1:
		return fmt.Errorf("low-light gamma %g: need above 1 (a gamma above 1 darkens)", c.LowLightGamma)
	case c.MotionBlurP > 0 && (c.MotionBlurLen <= 0 || c.MotionBlurLen > 0.5):
		return fmt.Errorf("motion-blur length %g: need a share of the side above 0 and at most 0.5", c.MotionBlurLen)
	}
	return nil
}

// Augmenter makes random training views of an image.
type Augmenter struct{ cfg AugmentConfig }

// newAugmenter checks cfg and returns an augmenter.
func newAugmenter(cfg AugmentConfig) (*Augmenter, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("augmentation: %w", err)
	}
	return &Augmenter{cfg: cfg}, nil
}

// Apply returns a new square BGR image: a random view of src (3-channel BGR).
// background says what src's background is ("white", "green" or "" for a
// real scene that is kept). All randomness comes from rng, so one seed gives
// one view. The caller closes the result; on error there is nothing to close.
func (a *Augmenter) Apply(src gocv.Mat, background string, rng *rand.Rand) (gocv.Mat, error) {
	if src.Empty() || src.Channels() != 3 || src.Type() != gocv.MatTypeCV8UC3 {
		return gocv.Mat{}, fmt.Errorf("augment: want a non-empty 8-bit 3-channel BGR image, got %dx%d with %d channels", src.Cols(), src.Rows(), src.Channels())
	}
	c := a.cfg
	side := min(src.Cols(), src.Rows())
	view := a.geometry(src, side, background, rng)
	if (background == "white" || background == "green") && rng.Float64() < c.BackgroundP {
		replaceBackground(view, background, rng)
	}
	pix, err := view.DataPtrUint8()
	if err != nil {
		view.Close()
		return gocv.Mat{}, fmt.Errorf("augment: %w", err)
	}
	a.colour(view, pix, rng)
	if rng.Float64() < c.BlurP {
		s := 0.3 + rng.Float64()*(c.BlurSigma-0.3)
		gocv.GaussianBlur(view, &view, image.Point{}, s, s, gocv.BorderReflect101)
	}
	if c.MotionBlurP > 0 && rng.Float64() < c.MotionBlurP {
		length := 2 + rng.Float64()*(c.MotionBlurLen*float64(side)-2)
		kernel := motionKernel(length, rng.Float64()*math.Pi)
		gocv.Filter2D(view, &view, -1, kernel, image.Pt(-1, -1), 0, gocv.BorderReflect101)
		kernel.Close()
	}
	if c.NoiseSigma > 0 {
		pix, _ = view.DataPtrUint8()
		s := rng.Float64() * c.NoiseSigma
		for i := range pix {
			pix[i] = clamp8(float64(pix[i]) + rng.NormFloat64()*s)
		}
	}
	if rng.Float64() < c.JPEGP {
		q := c.JPEGMin + rng.IntN(c.JPEGMax-c.JPEGMin+1)
		buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, view, []int{gocv.IMWriteJpegQuality, q})
		if err != nil {
			view.Close()
			return gocv.Mat{}, fmt.Errorf("augment: JPEG encode: %w", err)
		}
		dec, err := gocv.IMDecode(buf.GetBytes(), gocv.IMReadColor)
		buf.Close()
		view.Close()
		if err != nil {
			return gocv.Mat{}, fmt.Errorf("augment: JPEG decode: %w", err)
		}
		view = dec
	}
	return view, nil
}

// geometry rotates, scales, shifts and mirrors a side x side view out of the
// centre of src. The border is filled with the background colour for
// white/green sources (so background replacement covers it) and mirrored
// for real scenes.
func (a *Augmenter) geometry(src gocv.Mat, side int, background string, rng *rand.Rand) gocv.Mat {
	c := a.cfg
	angle := (rng.Float64()*2 - 1) * c.MaxRotate
	scale := c.ScaleMin + rng.Float64()*(c.ScaleMax-c.ScaleMin)
	dx := (rng.Float64()*2 - 1) * c.MaxShift * float64(side)
	dy := (rng.Float64()*2 - 1) * c.MaxShift * float64(side)
	flip := rng.Float64() < c.FlipP
	// Map src centre to the output centre, rotated and scaled, then shifted.
	cx, cy := float64(src.Cols())/2, float64(src.Rows())/2
	rad := angle * math.Pi / 180
	cos, sin := scale*math.Cos(rad), scale*math.Sin(rad)
	fx := 1.0
	if flip {
		fx = -1
	}
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	// out = R*S*F*(p - c) + side/2 + d
	m.SetDoubleAt(0, 0, fx*cos)
	m.SetDoubleAt(0, 1, sin)
	m.SetDoubleAt(1, 0, -fx*sin)
	m.SetDoubleAt(1, 1, cos)
	m.SetDoubleAt(0, 2, -(fx*cos*cx+sin*cy)+float64(side)/2+dx)
	m.SetDoubleAt(1, 2, -(-fx*sin*cx+cos*cy)+float64(side)/2+dy)
	out := gocv.NewMat()
	border, fill := gocv.BorderReflect101, color.RGBA{}
	switch background {
	case "white":
		border, fill = gocv.BorderConstant, color.RGBA{R: 255, G: 255, B: 255, A: 255}
	case "green":
		border = gocv.BorderReplicate
	}
	gocv.WarpAffineWithParams(src, &out, m, image.Pt(side, side), gocv.InterpolationLinear, border, fill)
	return out
}

// colour applies brightness, contrast, white balance, saturation and hue
// changes, greyscale and channel-order swaps to the BGR bytes of view.
func (a *Augmenter) colour(view gocv.Mat, pix []byte, rng *rand.Rand) {
	c := a.cfg
	sym := func(r float64) float64 { return (rng.Float64()*2 - 1) * r }
	if c.Saturation > 0 || c.Hue > 0 {
		sat := 1 + sym(c.Saturation)
		hue := sym(c.Hue) / 2 // OpenCV 8-bit hue is degrees/2
		hsv := gocv.NewMat()
		gocv.CvtColor(view, &hsv, gocv.ColorBGRToHSV)
		hp, _ := hsv.DataPtrUint8()
		for i := 0; i+2 < len(hp); i += 3 {
			h := math.Mod(float64(hp[i])+hue+180, 180)
			hp[i] = uint8(h)
			hp[i+1] = clamp8(float64(hp[i+1]) * sat)
		}
		gocv.CvtColor(hsv, &view, gocv.ColorHSVToBGR)
		hsv.Close()
	}
	pix, _ = view.DataPtrUint8()
	bright := sym(c.Brightness) * 255
	contrast := 1 + sym(c.Contrast)
	gain := [3]float64{1 + sym(c.ChannelGain), 1 + sym(c.ChannelGain), 1 + sym(c.ChannelGain)}
	gray := rng.Float64() < c.GrayP
	swap := rng.Float64() < c.SwapRBP
	var mean float64
	for _, v := range pix {
		mean += float64(v)
	}
	mean /= float64(len(pix))
	for i := 0; i+2 < len(pix); i += 3 {
		var px [3]float64
		for k := 0; k < 3; k++ {
			px[k] = (float64(pix[i+k])-mean)*contrast + mean + bright
			px[k] *= gain[k]
		}
		if gray {
			y := 0.114*px[0] + 0.587*px[1] + 0.299*px[2]
			px = [3]float64{y, y, y}
		}
		if swap {
			px[0], px[2] = px[2], px[0]
		}
		for k := 0; k < 3; k++ {
			pix[i+k] = clamp8(px[k])
		}
	}
	if c.LowLightP > 0 && rng.Float64() < c.LowLightP {
		gamma := 1 + rng.Float64()*(c.LowLightGamma-1)
		var curve [256]uint8
		for v := range curve {
			curve[v] = clamp8(255 * math.Pow(float64(v)/255, gamma))
		}
		for i, v := range pix {
			pix[i] = curve[v]
		}
	}
}

// motionKernel returns a normalised float32 kernel that averages along a
// line of the given length (pixels) through its centre at angle (radians):
// the smear of a linear motion during the exposure. Points along the line
// are splatted bilinearly, so short and slanted lines keep their length.
func motionKernel(length, angle float64) gocv.Mat {
	half := int(math.Ceil(length/2)) + 1
	k := 2*half + 1
	w := make([]float32, k*k)
	dx, dy := math.Cos(angle), math.Sin(angle)
	steps := int(math.Ceil(length * 4))
	for i := 0; i <= steps; i++ {
		t := (float64(i)/float64(steps) - 0.5) * length
		x, y := float64(half)+t*dx, float64(half)+t*dy
		x0, y0 := int(math.Floor(x)), int(math.Floor(y))
		fx, fy := x-float64(x0), y-float64(y0)
		w[y0*k+x0] += float32((1 - fx) * (1 - fy))
		w[y0*k+x0+1] += float32(fx * (1 - fy))
		w[(y0+1)*k+x0] += float32((1 - fx) * fy)
		w[(y0+1)*k+x0+1] += float32(fx * fy)
	}
	var sum float32
	for _, v := range w {
		sum += v
	}
	m := gocv.NewMatWithSize(k, k, gocv.MatTypeCV32F)
	mp, _ := m.DataPtrFloat32()
	for i, v := range w {
		mp[i] = v / sum
	}
	return m
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// backgroundMask returns, for each pixel of a BGR image, how much it is
// background (0..1): near-white, unsaturated pixels for "white", green-screen
// hues for "green". Only regions connected to the image border count, so
// highlights inside the hand stay hand.
func backgroundMask(view gocv.Mat, background string) []float32 {
	w, h := view.Cols(), view.Rows()
	pix, _ := view.DataPtrUint8()
	cand := make([]bool, w*h)
	switch background {
	case "white":
		for i := 0; i < w*h; i++ {
			b, g, r := int(pix[3*i]), int(pix[3*i+1]), int(pix[3*i+2])
			lo, hi := min(b, g, r), max(b, g, r)
			cand[i] = lo > 238 && hi-lo < 20
		}
	case "green":
		hsv := gocv.NewMat()
		gocv.CvtColor(view, &hsv, gocv.ColorBGRToHSV)
		hp, _ := hsv.DataPtrUint8()
		for i := 0; i < w*h; i++ {
			cand[i] = hp[3*i] >= 35 && hp[3*i] <= 90 && hp[3*i+1] > 50 && hp[3*i+2] > 30
		}
		hsv.Close()
	default:
		return make([]float32, w*h)
	}
	// Flood from the border through candidate pixels.
	mask := make([]float32, w*h)
	stack := make([]int, 0, 4*(w+h))
	push := func(i int) {
		if cand[i] && mask[i] == 0 {
			mask[i] = 1
			stack = append(stack, i)
		}
	}
	for x := 0; x < w; x++ {
		push(x)
		push((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x < w-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y < h-1 {
			push(i + w)
		}
	}
	return mask
}

// replaceBackground composites view over a synthetic room-like background:
// a smooth colour field (walls, light falloff), a few flat shapes
// (furniture, doors, posters) and sensor noise, with soft mask edges.
func replaceBackground(view gocv.Mat, background string, rng *rand.Rand) {
	w, h := view.Cols(), view.Rows()
	mask := backgroundMask(view, background)
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV32F)
	defer m.Close()
	mp, _ := m.DataPtrFloat32()
	copy(mp, mask)
	gocv.GaussianBlur(m, &m, image.Pt(5, 5), 0, 0, gocv.BorderReplicate)
	bg := syntheticBackground(w, h, rng)
	defer bg.Close()
	bp, _ := bg.DataPtrUint8()
	pix, _ := view.DataPtrUint8()
	mp, _ = m.DataPtrFloat32()
	for i := 0; i < w*h; i++ {
		a := float64(mp[i])
		if a == 0 {
			continue
		}
		for k := 0; k < 3; k++ {
			pix[3*i+k] = clamp8(float64(pix[3*i+k])*(1-a) + float64(bp[3*i+k])*a)
		}
	}
}

// syntheticBackground draws a w x h BGR room-like background.
func syntheticBackground(w, h int, rng *rand.Rand) gocv.Mat {
	g := 2 + rng.IntN(5)
	small := gocv.NewMatWithSize(g, g, gocv.MatTypeCV8UC3)
	sp, _ := small.DataPtrUint8()
	base := [3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}
	spread := 20 + rng.Float64()*80
	for i := 0; i < g*g; i++ {
		for k := 0; k < 3; k++ {
			sp[3*i+k] = clamp8(base[k] + (rng.Float64()*2-1)*spread)
		}
	}
	bg := gocv.NewMat()
	gocv.Resize(small, &bg, image.Pt(w, h), 0, 0, gocv.InterpolationCubic)
	small.Close()
	for n := rng.IntN(5); n > 0; n-- {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		r := image.Rect(x0, y0, x0+rng.IntN(w/2+1)+w/8, y0+rng.IntN(h/2+1)+h/8)
		col := color.RGBA{R: uint8(rng.IntN(256)), G: uint8(rng.IntN(256)), B: uint8(rng.IntN(256)), A: 255}
		gocv.Rectangle(&bg, r, col, -1)
	}
	gocv.GaussianBlur(bg, &bg, image.Pt(0, 0), 1+rng.Float64()*4, 0, gocv.BorderReflect101)
	bp, _ := bg.DataPtrUint8()
	noise := rng.Float64() * 8
	for i := range bp {
		bp[i] = clamp8(float64(bp[i]) + rng.NormFloat64()*noise)
	}
	return bg
}

// newRand returns a generator seeded from any number of keys, mixed with
// SplitMix64 so that nearby keys (view 0, 1, 2 of one file) give unrelated
// streams.
func newRand(keys ...uint64) *rand.Rand {
	var a, b uint64 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	for _, k := range keys {
		a = splitmix(a ^ k)
		b = splitmix(b + a)
	}
	return rand.New(rand.NewPCG(a, b))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
