package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// openVideoCapture opens spec with the backend that suits its kind and
// applies the camera requests in cfg.
func openVideoCapture(spec Spec, cfg config) (*gocv.VideoCapture, error) {
	var vc *gocv.VideoCapture
	var err error
	switch spec.Kind {
	case Camera:
		vc, err = gocv.VideoCaptureDeviceWithAPI(spec.Index, cameraAPI())
	case Device:
		vc, err = gocv.VideoCaptureFileWithAPI(spec.Path, gocv.VideoCaptureV4L2)
	case URL:
		vc, err = gocv.VideoCaptureFileWithAPI(spec.Raw, gocv.VideoCaptureFFmpeg)
	case GStreamer:
		// OpenCV waits forever for a pipeline naming an element GStreamer
		// does not have: name it instead, when gst-inspect-1.0 can tell.
		if missing := missingGstElement(spec.Raw); missing != "" {
			return nil, &OpenError{Spec: spec.Raw, Reason: fmt.Sprintf("GStreamer has no element %q", missing),
				Hint: "check the spelling with `gst-inspect-1.0 " + missing + "`, or install the plugin package that provides it (gstreamer1.0-plugins-good, -bad, -ugly, -libav)"}
		}
		vc, err = openWithin(gstOpenTimeout, spec.Raw, gocv.VideoCaptureGstreamer)
		if errors.Is(err, errOpenTimeout) {
			return nil, &OpenError{Spec: spec.Raw, Reason: fmt.Sprintf("the GStreamer pipeline did not start within %v", gstOpenTimeout), Hint: openHint(spec)}
		}
	case File:
		// FFmpeg only: OpenCV's automatic choice would also hand a corrupt
		// file to GStreamer and the image-sequence reader, which fail the
		// same way but flood stderr.
		vc, err = gocv.VideoCaptureFileWithAPI(spec.Path, gocv.VideoCaptureFFmpeg)
	}
	if err != nil || vc == nil || !vc.IsOpened() {
		closeCapture(vc)
		return nil, &OpenError{Spec: spec.Raw, Reason: openFailureReason(spec), Hint: openHint(spec)}
	}
	if spec.Kind == Camera || spec.Kind == Device {
		configureCamera(vc, cfg)
	}
	return vc, nil
}

// gstOpenTimeout bounds how long a GStreamer pipeline may take to start:
// OpenCV blocks with no timeout of its own on some broken pipelines.
const gstOpenTimeout = 15 * time.Second

var errOpenTimeout = errors.New("open timed out")

// openWithin opens name with api, giving up after d. A capture that opens
// after the deadline is closed when it does; the goroutine stuck in OpenCV
// until then cannot be stopped, which is the price of not hanging the user.
func openWithin(d time.Duration, name string, api gocv.VideoCaptureAPI) (*gocv.VideoCapture, error) {
	type opened struct {
		vc  *gocv.VideoCapture
		err error
	}
	done := make(chan opened, 1)
	go func() {
		vc, err := gocv.VideoCaptureFileWithAPI(name, api)
		done <- opened{vc, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case o := <-done:
		return o.vc, o.err
	case <-t.C:
		go func() { closeCapture((<-done).vc) }()
		return nil, errOpenTimeout
	}
}

// missingGstElement returns the first element of a gst-launch pipeline that
// GStreamer does not have, asking gst-inspect-1.0; "" when all are there or
// gst-inspect-1.0 is not installed.
func missingGstElement(pipeline string) string {
	inspect, err := exec.LookPath("gst-inspect-1.0")
	if err != nil {
		return ""
	}
	for _, seg := range strings.Split(pipeline, "!") {
		fields := strings.Fields(seg)
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		// Caps ("video/x-raw,width=640"), references to named elements
		// ("t." or "demux.video_0") and properties are not factories.
		if strings.ContainsAny(name, "/.,=()\"'") {
			continue
		}
		if err := exec.Command(inspect, "--exists", name).Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return name
			}
			return "" // could not ask: let OpenCV try
		}
	}
	return ""
}

func closeCapture(vc *gocv.VideoCapture) {
	if vc != nil {
		_ = vc.Close()
	}
}

func cameraAPI() gocv.VideoCaptureAPI {
	if runtime.GOOS == "linux" {
		return gocv.VideoCaptureV4L2
	}
	return gocv.VideoCaptureAny
}

// configureCamera requests format, size and rate, in that order: V4L2
// negotiates the size within the chosen pixel format, so setting FOURCC last
// could undo the size.
func configureCamera(vc *gocv.VideoCapture, cfg config) {
	if cfg.mjpg {
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec("MJPG"))
	}
	if cfg.width > 0 && cfg.height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(cfg.width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(cfg.height))
	}
	if cfg.fps > 0 {
		vc.Set(gocv.VideoCaptureFPS, cfg.fps)
	}
	// One driver buffer: frames queued in the kernel are frames of latency.
	vc.Set(gocv.VideoCaptureBufferSize, 1)
}

// vcReader reads frames from an OpenCV VideoCapture and normalises them to
// 8-bit BGR.
type vcReader struct {
	vc      *gocv.VideoCapture
	spec    Spec
	scratch gocv.Mat // conversion target for grey or BGRA frames; swapped into the pool
	frames  uint64
	finite  bool // a URL with a known frame count: its end is an end, not a loss
	planar  planarYUV
}

func newVCReader(vc *gocv.VideoCapture, spec Spec) *vcReader {
	r := &vcReader{vc: vc, spec: spec, scratch: gocv.NewMat()}
	if spec.Kind == GStreamer {
		r.planar = pipelineYUV(spec.Raw)
	}
	if spec.Kind == URL && vc.Get(gocv.VideoCaptureFrameCount) > 0 {
		r.finite = true
	}
	return r
}

// cameraReadRetries is how many consecutive failed reads a camera gets
// before it counts as lost: some drivers fail one read while they renegotiate.
const cameraReadRetries = 3

func (r *vcReader) next(stop <-chan struct{}, dst *gocv.Mat) error {
	attempts := 1
	if r.spec.Kind == Camera || r.spec.Kind == Device {
		attempts = cameraReadRetries
	}
	for i := 0; ; i++ {
		if r.vc.Read(dst) && !dst.Empty() {
			break
		}
		if i+1 >= attempts {
			return r.endError()
		}
		select {
		case <-stop:
			return r.endError()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if r.planar.ok && dst.Channels() == 1 {
		if dst.Rows()%3 != 0 {
			return fmt.Errorf("capture: %s %q: %s frame of %d rows is not 3/2 of an image height", r.spec.Kind, r.spec.Raw, r.planar.name, dst.Rows())
		}
		gocv.CvtColor(*dst, &r.scratch, r.planar.code)
		*dst, r.scratch = r.scratch, *dst
	}
	if err := toBGR(dst, &r.scratch); err != nil {
		return fmt.Errorf("capture: %s %q: %w", r.spec.Kind, r.spec.Raw, err)
	}
	r.frames++
	return nil
}

// planarYUV is a 4:2:0 format OpenCV's GStreamer backend hands over raw, as
// one channel of 3/2 the image height, indistinguishable by shape from grey.
type planarYUV struct {
	ok   bool
	name string
	code gocv.ColorConversionCode
}

// pipelineYUV reads the pixel format a pipeline's last caps give appsink:
// only the pipeline text says whether a one-channel frame is grey or YUV.
func pipelineYUV(pipeline string) planarYUV {
	i := strings.LastIndex(pipeline, "format=")
	if i < 0 {
		return planarYUV{}
	}
	v := strings.TrimPrefix(pipeline[i+len("format="):], "(string)")
	if end := strings.IndexAny(v, " ,!;"); end >= 0 {
		v = v[:end]
	}
	switch v = strings.ToUpper(strings.Trim(v, `"`)); v {
	case "I420", "IYUV":
		return planarYUV{true, v, gocv.ColorYUVToBGRIYUV}
	case "YV12":
		return planarYUV{true, v, gocv.ColorYUVToBGRYV12}
	case "NV12":
		return planarYUV{true, v, gocv.ColorYUVToBGRNV12}
	case "NV21":
		return planarYUV{true, v, gocv.ColorYUVToBGRNV21}
	}
	return planarYUV{}
}

// toBGR converts m in place to 3-channel 8-bit BGR, using scratch and
// swapping, so neither Mat is reallocated once sizes settle.
func toBGR(m, scratch *gocv.Mat) error {
	if m.Type() == gocv.MatTypeCV8UC3 {
		return nil
	}
	if m.Type()&7 != gocv.MatTypeCV8U {
		return fmt.Errorf("unsupported frame depth (Mat type %v): only 8-bit frames are handled", m.Type())
	}
	switch m.Channels() {
	case 1:
		gocv.CvtColor(*m, scratch, gocv.ColorGrayToBGR)
	case 4:
		gocv.CvtColor(*m, scratch, gocv.ColorBGRAToBGR)
	default:
		return fmt.Errorf("unsupported frame with %d channels", m.Channels())
	}
	*m, *scratch = *scratch, *m
	return nil
}

// endError is what a failed read means for this kind of source.
func (r *vcReader) endError() error {
	switch r.spec.Kind {
	case File:
		return io.EOF
	case URL:
		if r.finite {
			return io.EOF
		}
	case GStreamer:
		if !isLivePipeline(r.spec.Raw) {
			return io.EOF
		}
	}
	return fmt.Errorf("%w: %s %q stopped delivering frames after %d frames (%s)",
		ErrSourceLost, r.spec.Kind, r.spec.Raw, r.frames, lostHint(r.spec))
}

// liveGstElements are GStreamer sources that never end by themselves: when
// such a pipeline stops, the device or stream was lost.
var liveGstElements = []string{"v4l2src", "libcamerasrc", "nvarguscamerasrc", "rtspsrc", "udpsrc", "souphttpsrc",
	"rtmpsrc", "rtmp2src", "srtsrc", "ksvideosrc", "avfvideosrc", "mfvideosrc", "pipewiresrc", "ximagesrc"}

func isLivePipeline(p string) bool {
	for _, el := range strings.Fields(strings.ReplaceAll(p, "!", " ")) {
		for _, live := range liveGstElements {
			if el == live {
				return true
			}
		}
	}
	return strings.Contains(p, "is-live=true")
}

func (r *vcReader) close() {
	closeCapture(r.vc)
	r.vc = nil
	_ = r.scratch.Close()
}

// info reports what the backend granted, with the frame size taken from the
// first frame (drivers sometimes report the requested size, not the real one).
func (r *vcReader) info(first gocv.Mat) Info {
	info := Info{
		Spec:       r.spec.Raw,
		Kind:       r.spec.Kind,
		Width:      first.Cols(),
		Height:     first.Rows(),
		FrameCount: -1,
		Backend:    backendName(r.vc.Get(gocv.VideoCaptureBackend)),
	}
	if fps := r.vc.Get(gocv.VideoCaptureFPS); fps > 0 && fps <= 1000 && !math.IsNaN(fps) {
		info.FPS = fps
	}
	if r.spec.Kind == File || r.finite {
		if n := r.vc.Get(gocv.VideoCaptureFrameCount); n > 0 && n < math.MaxInt32 {
			info.FrameCount = int(n)
		}
	}
	// GStreamer has no FOURCC property and warns on every query.
	if r.spec.Kind != GStreamer {
		if codec := r.vc.CodecString(); isPrintableFourCC(codec) {
			info.Codec = codec
		}
	}
	return info
}

func isPrintableFourCC(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return strings.TrimSpace(s) != ""
}

func backendName(v float64) string {
	switch gocv.VideoCaptureAPI(v) {
	case gocv.VideoCaptureV4L2:
		return "V4L2"
	case gocv.VideoCaptureGstreamer:
		return "GSTREAMER"
	case gocv.VideoCaptureFFmpeg:
		return "FFMPEG"
	case gocv.VideoCaptureImages:
		return "IMAGES"
	case gocv.VideoCaptureOpencvMjpeg:
		return "CV_MJPEG"
	case gocv.VideoCaptureAVFoundation:
		return "AVFOUNDATION"
	case gocv.VideoCaptureMSMF:
		return "MSMF"
	case gocv.VideoCaptureDshow:
		return "DSHOW"
	case gocv.VideoCaptureAny:
		return ""
	}
	return fmt.Sprintf("api-%d", int(v))
}

const cameraHint = "check that a camera is connected with `ls /dev/video*`, try another index, " +
	"close other apps using the camera (browser tabs, video calls), " +
	"and make sure your user may use it: `sudo usermod -aG video $USER`, then log in again"

// openFailureReason explains a failed open as precisely as the file system allows.
func openFailureReason(spec Spec) string {
	switch spec.Kind {
	case Camera:
		if runtime.GOOS == "linux" {
			return devNodeReason(fmt.Sprintf("/dev/video%d", spec.Index), fmt.Sprintf("camera %d", spec.Index))
		}
		return fmt.Sprintf("camera %d could not be opened", spec.Index)
	case Device:
		return devNodeReason(spec.Path, "device "+spec.Path)
	case File:
		return "FFmpeg cannot read it as a video: it is corrupt, truncated, or not a video format"
	case URL:
		return "FFmpeg could not connect to the stream or read its header"
	case GStreamer:
		return "the GStreamer pipeline did not start"
	}
	return "it could not be opened"
}

// devNodeReason tells a missing device, one without permission, and one that
// exists but would not open (usually busy) apart.
func devNodeReason(node, what string) string {
	f, err := os.Open(node)
	switch {
	case err == nil:
		_ = f.Close()
		return fmt.Sprintf("%s (%s) exists but could not be opened for capture: another program may be using it, or it is not a capture device (metadata nodes cannot capture)", what, node)
	case os.IsNotExist(err):
		return fmt.Sprintf("%s: %s does not exist; video devices present: %s", what, node, listVideoDevices())
	case os.IsPermission(err):
		return fmt.Sprintf("%s: permission denied on %s", what, node)
	default:
		return fmt.Sprintf("%s: %v", what, err)
	}
}

func listVideoDevices() string {
	matches, _ := filepath.Glob("/dev/video*")
	if len(matches) == 0 {
		return "none"
	}
	sort.Strings(matches)
	return strings.Join(matches, ", ")
}

func openHint(spec Spec) string {
	switch spec.Kind {
	case Camera, Device:
		return cameraHint
	case File:
		return "check the file plays in a video player (e.g. `ffprobe " + spec.Path + "`); re-encode it with `ffmpeg -i in -c:v libx264 out.mp4` if it does not"
	case URL:
		return "check the URL plays with `ffplay " + spec.Raw + "`; for RTSP behind a firewall try OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp"
	case GStreamer:
		return "test the pipeline with `gst-launch-1.0 " + withFakesink(spec.Raw) + "`, and end it with `videoconvert ! appsink`"
	}
	return ""
}

func noFrameHint(spec Spec) string {
	switch spec.Kind {
	case Camera, Device:
		return "the camera opened but sent nothing: " + cameraHint + "; if you asked for a size, rate or MJPG, try without"
	case File:
		return "the file has no decodable video frame (empty, truncated or corrupt): " + openHint(spec)
	}
	return openHint(spec)
}

func lostHint(spec Spec) string {
	switch spec.Kind {
	case Camera, Device:
		return "was the camera unplugged or taken by another program? check `ls /dev/video*`"
	case URL:
		return "the stream stopped: check the network and the sender"
	case GStreamer:
		return "the pipeline stopped: run it with gst-launch-1.0 to see why"
	}
	return "the source stopped"
}

// withFakesink swaps a pipeline's last element for fakesink, so the user can
// run it with gst-launch-1.0 and read GStreamer's own error.
func withFakesink(pipeline string) string {
	elements := strings.Split(pipeline, "!")
	if len(elements) < 2 {
		return strings.TrimSpace(pipeline)
	}
	for i := range elements {
		elements[i] = strings.TrimSpace(elements[i])
	}
	elements[len(elements)-1] = "fakesink"
	return strings.Join(elements, " ! ")
}
