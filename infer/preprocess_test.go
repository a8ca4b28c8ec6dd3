package infer

import (
	"image"
	"math"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// patternFrame is a w x h BGR frame whose pixel (x, y) is B=x, G=y, R=100+x+y,
// so every output element names where it came from.
func patternFrame(t testing.TB, w, h int) gocv.Mat {
	t.Helper()
	data := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			data[i], data[i+1], data[i+2] = byte(x), byte(y), byte(100+x+y)
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, data)
	if err != nil {
		t.Fatal(err)
	}
	// NewMatFromBytes wraps data; clone so the Mat owns its pixels.
	c := m.Clone()
	m.Close()
	t.Cleanup(func() { c.Close() })
	return c
}

func newPre(t *testing.T, c Contract) *Preprocessor {
	t.Helper()
	p, err := NewPreprocessor(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// An roi of exactly the input size is copied without interpolation, so every
// byte is predictable.
func TestIntoUint8ExactPixels(t *testing.T) {
	frame := patternFrame(t, 10, 8)
	roi := image.Rect(3, 2, 7, 5) // 4 wide, 3 high
	for _, color := range []ColorOrder{RGB, BGR} {
		p := newPre(t, Contract{Width: 4, Height: 3, Channels: 3, Layout: NHWC, Color: color})
		dst := make([]uint8, p.Size())
		if err := p.IntoUint8(frame, roi, dst); err != nil {
			t.Fatal(err)
		}
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				fx, fy := 3+x, 2+y
				b, g, r := byte(fx), byte(fy), byte(100+fx+fy)
				want := [3]byte{r, g, b}
				if color == BGR {
					want = [3]byte{b, g, r}
				}
				i := (y*4 + x) * 3
				if got := [3]byte{dst[i], dst[i+1], dst[i+2]}; got != want {
					t.Fatalf("%s pixel (%d,%d) = %v, want %v", color, x, y, got, want)
				}
			}
		}
	}
}

func TestIntoFloat32NCHWAndNHWC(t *testing.T) {
	frame := patternFrame(t, 6, 6)
	roi := image.Rect(1, 1, 3, 3) // 2x2
	c := Contract{Width: 2, Height: 2, Channels: 3, Color: RGB, Scale: [3]float32{0.5, 1, 2}, Offset: [3]float32{-1, 0, 1}}
	model := func(x, y, ch int) float32 { // model channel ch (RGB order) of roi pixel (x,y)
		fx, fy := 1+x, 1+y
		v := [3]float32{float32(100 + fx + fy), float32(fy), float32(fx)}[ch]
		return v*c.Scale[ch] + c.Offset[ch]
	}
	c.Layout = NCHW
	dst := make([]float32, 12)
	if err := newPre(t, c).IntoFloat32(frame, roi, dst); err != nil {
		t.Fatal(err)
	}
	for ch := 0; ch < 3; ch++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 2; x++ {
				if got, want := dst[ch*4+y*2+x], model(x, y, ch); got != want {
					t.Fatalf("NCHW [%d,%d,%d] = %v, want %v", ch, y, x, got, want)
				}
			}
		}
	}
	c.Layout = NHWC
	if err := newPre(t, c).IntoFloat32(frame, roi, dst); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 2; y++ {
		for x := 0; x < 2; x++ {
			for ch := 0; ch < 3; ch++ {
				if got, want := dst[(y*2+x)*3+ch], model(x, y, ch); got != want {
					t.Fatalf("NHWC [%d,%d,%d] = %v, want %v", y, x, ch, got, want)
				}
			}
		}
	}
}

// A solid colour survives any resize exactly; BGRA and grey frames are
// converted to the model's order.
func TestPreprocessResizeAndFrameTypes(t *testing.T) {
	p := newPre(t, Contract{Width: 5, Height: 5, Channels: 3, Layout: NHWC, Color: RGB})
	dst := make([]uint8, p.Size())
	check := func(what string, frame gocv.Mat, roi image.Rectangle, want [3]byte) {
		t.Helper()
		if err := p.IntoUint8(frame, roi, dst); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for i := 0; i < len(dst); i += 3 {
			if got := [3]byte{dst[i], dst[i+1], dst[i+2]}; got != want {
				t.Fatalf("%s: element %d = %v, want %v", what, i/3, got, want)
			}
		}
	}
	check("shrink 640x480", solidFrame(t, 640, 480, 1, 2, 3), image.Rectangle{}, [3]byte{3, 2, 1})
	check("enlarge 2x3 roi", solidFrame(t, 640, 480, 4, 5, 6), image.Rect(10, 10, 12, 13), [3]byte{6, 5, 4})

	bgra := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(7, 8, 9, 255), 20, 30, gocv.MatTypeCV8UC4)
	defer bgra.Close()
	check("BGRA", bgra, image.Rectangle{}, [3]byte{9, 8, 7})
	grey := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(42, 0, 0, 0), 20, 30, gocv.MatTypeCV8UC1)
	defer grey.Close()
	check("grey", grey, image.Rectangle{}, [3]byte{42, 42, 42})

	f32 := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV32FC3)
	defer f32.Close()
	if err := p.IntoUint8(f32, image.Rectangle{}, dst); err == nil || !strings.Contains(err.Error(), "CV_8UC3") {
		t.Fatalf("float frame: %v, want an error naming CV_8UC3", err)
	}
	if err := p.IntoUint8(solidFrame(t, 8, 8, 0, 0, 0), image.Rectangle{}, dst[:3]); err == nil || !strings.Contains(err.Error(), "want 75") {
		t.Fatalf("short destination: %v", err)
	}
}

// A grey model gets BT.601 luma.
func TestPreprocessGreyModel(t *testing.T) {
	p := newPre(t, Contract{Width: 3, Height: 3, Channels: 1, Layout: NCHW, Scale: [3]float32{1, 1, 1}})
	dst := make([]float32, p.Size())
	if err := p.IntoFloat32(solidFrame(t, 9, 9, 0, 0, 255), image.Rectangle{}, dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		if v != 76 { // round(0.299*255)
			t.Fatalf("grey element %d = %v, want 76", i, v)
		}
	}
}

func TestNewPreprocessorRejects(t *testing.T) {
	for _, tc := range []struct {
		c    Contract
		want string
	}{
		{Contract{Width: 0, Height: 4, Channels: 3, Layout: NHWC, Color: RGB}, "must be positive"},
		{Contract{Width: 4, Height: 4, Channels: 2, Layout: NHWC, Color: RGB}, "channels 2"},
		{Contract{Width: 4, Height: 4, Channels: 3, Layout: "CHW", Color: RGB}, `layout "CHW"`},
		{Contract{Width: 4, Height: 4, Channels: 3, Layout: NHWC, Color: "YUV"}, `colour order "YUV"`},
	} {
		if _, err := NewPreprocessor(tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	p, _ := NewPreprocessor(Contract{Width: 4, Height: 4, Channels: 3, Layout: NHWC, Color: RGB})
	p.Close()
	if err := p.IntoUint8(solidFrame(t, 8, 8, 0, 0, 0), image.Rectangle{}, make([]uint8, 48)); err != errPreprocessorClosed {
		t.Fatalf("after Close: %v", err)
	}
}

func TestPreprocessAllocs(t *testing.T) {
	if matProfile {
		t.Skip("allocation counts include matprofile's per-Mat stack records; run without -tags matprofile")
	}
	p := newPre(t, Contract{Width: 224, Height: 224, Channels: 3, Layout: NCHW, Color: RGB, Scale: [3]float32{1, 1, 1}})
	frame := solidFrame(t, 640, 480, 1, 2, 3)
	dst := make([]float32, p.Size())
	allocs := testing.AllocsPerRun(20, func() { p.IntoFloat32(frame, image.Rectangle{}, dst) })
	if allocs != 0 {
		t.Fatalf("IntoFloat32 allocates %v times, want 0", allocs)
	}
}

func TestCentreSquare(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		want image.Rectangle
	}{
		{640, 480, image.Rect(80, 0, 560, 480)},
		{480, 640, image.Rect(0, 80, 480, 560)},
		{301, 300, image.Rect(0, 0, 300, 300)},
		{5, 5, image.Rect(0, 0, 5, 5)},
		{0, 5, image.Rectangle{}},
	} {
		if got := CentreSquare(tc.w, tc.h); got != tc.want {
			t.Fatalf("CentreSquare(%d,%d) = %v, want %v", tc.w, tc.h, got, tc.want)
		}
	}
	if got := centreCrop(640, 480, 2, 1); got != image.Rect(0, 80, 640, 400) {
		t.Fatalf("centreCrop 2:1 = %v", got)
	}
}

func TestParseAndCheckROI(t *testing.T) {
	good := map[string]image.Rectangle{
		"208,128,224,224":  image.Rect(208, 128, 432, 352),
		" 0, 0 ,1,1 ":      image.Rect(0, 0, 1, 1),
		"10,20,30,40":      image.Rect(10, 20, 40, 60),
		"65536,0,65536,65": image.Rect(65536, 0, 131072, 65),
	}
	for in, want := range good {
		got, err := ParseROI(in)
		if err != nil || got != want {
			t.Fatalf("ParseROI(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":               "1 comma-separated numbers",
		"1,2,3":          "3 comma-separated numbers",
		"1,2,3,4,5":      "5 comma-separated",
		"a,2,3,4":        `"a" is not an integer`,
		"-1,2,3,4":       "outside 0..65536",
		"1,2,0,4":        "width and height must be positive",
		"1,2,3,99999999": "outside",
		"1.5,2,3,4":      "not an integer",
	}
	for in, want := range bad {
		_, err := ParseROI(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "want x,y,w,h") {
			t.Fatalf("ParseROI(%q) error %v, want one containing %q and the format", in, err, want)
		}
	}
	if err := CheckROI(image.Rect(600, 0, 700, 100), 640, 480); err == nil || !strings.Contains(err.Error(), "640x480 frame") {
		t.Fatalf("CheckROI outside: %v", err)
	}
	if err := CheckROI(image.Rectangle{}, 640, 480); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("CheckROI empty: %v", err)
	}
	if err := CheckROI(image.Rect(0, 0, 640, 480), 640, 480); err != nil {
		t.Fatalf("CheckROI whole frame: %v", err)
	}
}

// FuzzParseROI: no input panics; accepted input is a non-empty rectangle
// inside the non-negative quadrant that prints back to an equal one.
func FuzzParseROI(f *testing.F) {
	f.Add("208,128,224,224")
	f.Add("1,2,3")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseROI(s)
		if err != nil {
			if r != (image.Rectangle{}) {
				t.Fatalf("error %v with non-zero rectangle %v", err, r)
			}
			return
		}
		if r.Empty() || r.Min.X < 0 || r.Min.Y < 0 || r.Dx() > maxROICoord || r.Dy() > maxROICoord {
			t.Fatalf("ParseROI(%q) accepted %v", s, r)
		}
		back, err := ParseROI(formatROI(r))
		if err != nil || back != r {
			t.Fatalf("round trip of %v: %v, %v", r, back, err)
		}
	})
}

// Shrinking uses INTER_AREA, which averages every source pixel: stripes
// 0,0,255 shrunk 3x become 85 everywhere, where INTER_LINEAR would sample
// only the middle column of each triple (0) and alias.
func TestPreprocessShrinkAveragesArea(t *testing.T) {
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), 12, 12, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for x := 2; x < 12; x += 3 {
		paint(frame, image.Rect(x, 0, x+1, 12), 255, 255, 255)
	}
	p := newPre(t, Contract{Width: 4, Height: 4, Channels: 3, Layout: NHWC, Color: RGB})
	dst := make([]uint8, p.Size())
	if err := p.IntoUint8(frame, image.Rect(0, 0, 12, 12), dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		if v != 85 {
			t.Fatalf("element %d = %d, want 85 (area average of 0,0,255)", i, v)
		}
	}
}

// The two-step shrinks keep INTER_AREA's anti-aliasing: 1-pixel black/white
// stripes from a 640x480 frame come out mid-grey (INTER_LINEAR alone gives
// 0..255; single-step INTER_AREA 119..136, the exact area average of a
// 2.14-pixel window; area 2x then linear gives 128 everywhere).
func TestPreprocessLargeShrinkDoesNotAlias(t *testing.T) {
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for x := 0; x < 640; x += 2 {
		paint(frame, image.Rect(x, 0, x+1, 480), 255, 255, 255)
	}
	p := newPre(t, Contract{Width: 224, Height: 224, Channels: 3, Layout: NHWC, Color: BGR})
	dst := make([]uint8, p.Size())
	if err := p.IntoUint8(frame, image.Rectangle{}, dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		if v < 119 || v > 136 {
			t.Fatalf("element %d = %d: stripes aliased, want mid-grey 119..136", i, v)
		}
	}
}

// Every shrink path (area by a whole factor then linear; linear to a whole
// multiple then area; one whole-factor area step) stays within a few levels
// of OpenCV's exact single-step INTER_AREA on a smooth picture.
func TestPreprocessShrinkPathsMatchArea(t *testing.T) {
	for _, c := range []struct {
		name   string
		w, h   int
		roi    image.Rectangle
		maxOff int
	}{
		{"640x480 centre 480 (area 2x, linear 240->224)", 640, 480, image.Rectangle{}, 3},
		{"1920x1080 centre 1080 (area 4x, linear 270->224)", 1920, 1080, image.Rectangle{}, 3},
		{"roi 481 (linear 481->448, area 2x)", 640, 480, image.Rect(10, 0, 491, 481), 3},
		{"roi 448 (area 2x)", 640, 480, image.Rect(0, 0, 448, 448), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := max(c.h, c.roi.Max.Y)
			data := make([]byte, c.w*h*3)
			for y := 0; y < h; y++ {
				for x := 0; x < c.w; x++ {
					i := (y*c.w + x) * 3
					data[i] = byte(128 + 100*math.Sin(float64(x)/13)*math.Cos(float64(y)/17))
					data[i+1] = byte(128 + 90*math.Cos(float64(x+y)/23))
					data[i+2] = byte(x * 255 / c.w)
				}
			}
			frame, err := gocv.NewMatFromBytes(h, c.w, gocv.MatTypeCV8UC3, data)
			if err != nil {
				t.Fatal(err)
			}
			defer frame.Close()
			p := newPre(t, Contract{Width: 224, Height: 224, Channels: 3, Layout: NHWC, Color: BGR})
			dst := make([]uint8, p.Size())
			if err := p.IntoUint8(frame, c.roi, dst); err != nil {
				t.Fatal(err)
			}
			roi := c.roi
			if roi.Empty() {
				roi = CentreSquare(c.w, h)
			}
			region := frame.Region(roi)
			defer region.Close()
			ref := gocv.NewMat()
			defer ref.Close()
			gocv.Resize(region, &ref, image.Pt(224, 224), 0, 0, gocv.InterpolationArea)
			want, err := ref.DataPtrUint8()
			if err != nil {
				t.Fatal(err)
			}
			worst := 0
			for i, v := range dst {
				worst = max(worst, abs(int(v)-int(want[i])))
			}
			if worst > c.maxOff {
				t.Errorf("differs from single-step INTER_AREA by up to %d levels, want at most %d", worst, c.maxOff)
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
