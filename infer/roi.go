package infer

import (
	"fmt"
	"image"
	"strconv"
	"strings"
)

// maxROICoord bounds ParseROI's numbers so x+w and y+h cannot overflow and a
// typo with extra digits is caught here rather than as "outside the frame".
const maxROICoord = 1 << 16

// CentreSquare is the largest square centred in a frameW x frameH frame: what
// Classify looks at when no region of interest is given.
func CentreSquare(frameW, frameH int) image.Rectangle {
	return centreCrop(frameW, frameH, 1, 1)
}

// centreCrop is the largest rectangle of aspect ratio aw:ah centred in the
// frame, so a non-square model input is not squashed.
func centreCrop(frameW, frameH, aw, ah int) image.Rectangle {
	if frameW <= 0 || frameH <= 0 || aw <= 0 || ah <= 0 {
		return image.Rectangle{}
	}
	w, h := frameW, frameH
	if int64(frameW)*int64(ah) > int64(frameH)*int64(aw) {
		w = int(int64(frameH) * int64(aw) / int64(ah))
	} else {
		h = int(int64(frameW) * int64(ah) / int64(aw))
	}
	w, h = max(w, 1), max(h, 1)
	x, y := (frameW-w)/2, (frameH-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// ParseROI reads a region of interest written "x,y,w,h" in pixels (spaces
// around the numbers are allowed), e.g. "208,128,224,224".
func ParseROI(s string) (image.Rectangle, error) {
	bad := func(why string) (image.Rectangle, error) {
		return image.Rectangle{}, fmt.Errorf("roi %q: %s; want x,y,w,h in pixels, e.g. 208,128,224,224", s, why)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return bad(fmt.Sprintf("%d comma-separated numbers", len(parts)))
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return bad(fmt.Sprintf("%q is not an integer", strings.TrimSpace(p)))
		}
		if n < 0 || n > maxROICoord {
			return bad(fmt.Sprintf("%d is outside 0..%d", n, maxROICoord))
		}
		v[i] = n
	}
	if v[2] == 0 || v[3] == 0 {
		return bad("width and height must be positive")
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}

// CheckROI reports an error when roi is empty or not wholly inside a frameW x
// frameH frame.
func CheckROI(roi image.Rectangle, frameW, frameH int) error {
	frame := image.Rect(0, 0, frameW, frameH)
	if roi.Empty() {
		return fmt.Errorf("roi %s is empty: give a width and height of at least 1 pixel", formatROI(roi))
	}
	if !roi.In(frame) {
		return fmt.Errorf("roi %s lies outside the %dx%d frame: choose x+w <= %d and y+h <= %d", formatROI(roi), frameW, frameH, frameW, frameH)
	}
	return nil
}

func formatROI(r image.Rectangle) string {
	return fmt.Sprintf("%d,%d,%d,%d", r.Min.X, r.Min.Y, r.Dx(), r.Dy())
}
