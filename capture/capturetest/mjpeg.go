package capturetest

import (
	"fmt"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"time"

	"gocv.io/x/gocv"
)

// NewMJPEGServer serves w x h JPEG frames (a moving bar, so every frame
// differs) as a multipart/x-mixed-replace stream at fps on every request,
// as phone and IP camera apps do: the stream states no frame rate, so
// FFmpeg guesses one. Its URL is the server's URL; Close it when done.
func NewMJPEGServer(w, h int, fps float64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		const boundary = "rpscamframe"
		rw.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+boundary)
		img := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
		defer img.Close()
		tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
		defer tick.Stop()
		for seq := 0; ; seq++ {
			img.SetTo(gocv.NewScalar(40, 40, 40, 0))
			x := seq * 7 % w
			gocv.Rectangle(&img, image.Rect(x, 0, x+8, h), color.RGBA{R: 250, G: 250, B: 250, A: 255}, -1)
			buf, err := gocv.IMEncode(gocv.JPEGFileExt, img)
			if err != nil {
				return
			}
			_, err = fmt.Fprintf(rw, "--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", boundary, buf.Len())
			if err == nil {
				_, err = rw.Write(buf.GetBytes())
			}
			buf.Close()
			if err == nil {
				_, err = rw.Write([]byte("\r\n"))
			}
			if err != nil {
				return // the client went away
			}
			rw.(http.Flusher).Flush()
			select {
			case <-req.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
}
