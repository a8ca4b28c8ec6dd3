// Package sink is where annotated frames go: a video file (Recorder) or a
// desktop window (Window).
package sink

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink: recorder is closed")

// ErrUnwritable is wrapped by the errors NewRecorder and CheckOutput return
// when the output cannot be created there: a missing or read-only folder, a
// path that is a folder, an extension no codec writes.
var ErrUnwritable = errors.New("output cannot be written")

// ErrDiskFull is wrapped by the error Write returns when the output's file
// system is about to fill up. The recording stops while there is still room
// for the container's index, so that Close leaves a playable file of every
// frame written so far: OpenCV's writer reports no error when the disk is
// full, and an MP4 whose index could not be written does not play at all.
var ErrDiskFull = errors.New("disk full")

// defaultDiskReserve is the free space below which a recording stops: room
// for the index of hours of video and for the frames written between checks.
const defaultDiskReserve = 32 << 20

// codecsByExt lists, per file extension, the fourccs tried in order. H.264
// (avc1) plays everywhere; mp4v is the fallback an OpenCV without an H.264
// encoder still has; MJPG is what AVI players expect and is always built in.
var codecsByExt = map[string][]string{
	".mp4": {"avc1", "mp4v"},
	".mov": {"avc1", "mp4v"},
	".avi": {"MJPG"},
	".mkv": {"avc1", "MJPG"},
}

func supportedExts() string {
	exts := make([]string, 0, len(codecsByExt))
	for e := range codecsByExt {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, ", ")
}

const (
	// defaultFPS replaces a missing or absurd frame rate: a container needs
	// a positive rate, 0 or negative is what an unknown camera rate looks
	// like, and anything above maxFPS is a timestamp bug upstream (one over
	// a near-zero frame interval), not a real camera. 30 is what webcams
	// deliver.
	defaultFPS = 30
	maxFPS     = 1000

	// maxSide bounds the frame size; bigger is a caller bug, not a video.
	maxSide = 16384

	// statEvery is how often, in frames, Write checks that the output
	// file is still there; a stat costs microseconds, so every 10 frames
	// reports a deleted or unmounted output within a third of a second at
	// 30 FPS.
	statEvery = 10
)

type recorderOptions struct {
	fourcc   string
	reserve  int64
	realTime bool
}

// WithRealTime makes the recording play back at the speed it was captured:
// Consume places each frame by its capture time (pipeline.Annotated.Captured)
// on the file's fixed frame rate, repeating the previous frame over a gap
// (a live source that dropped frames or stalled) and leaving out a frame
// that comes more than one frame early, so the file's duration follows the
// wall clock instead of frames/rate. Use it for live sources only: a file
// read as fast as it decodes would lose most of its frames. See WriteAt.
func WithRealTime() RecorderOption {
	return func(o *recorderOptions) { o.realTime = true }
}

// maxRepeatGap bounds the gap WriteAt fills with repeats: a longer one (a
// camera reconnected after minutes) is cut to this, so the recording does
// not fill the disk with a frozen frame and the pipeline is not held up
// encoding it.
const maxRepeatGap = 10 * time.Second

// withDiskReserve stops the recording (Write returns an error wrapping
// ErrDiskFull) once less than bytes are free on the output's file system,
// checked every few frames; 0 turns the check off. Default
// defaultDiskReserve.
func withDiskReserve(bytes int64) RecorderOption {
	return func(o *recorderOptions) { o.reserve = max(bytes, 0) }
}

// RecorderOption configures NewRecorder.
type RecorderOption func(*recorderOptions)

// WithFourCC forces the codec, a four-character code such as "avc1", "mp4v"
// or "MJPG", instead of the one chosen by the file extension. NewRecorder
// fails if code is not four characters or the writer does not open with it.
func WithFourCC(code string) RecorderOption {
	return func(o *recorderOptions) { o.fourcc = code }
}

// Recorder writes frames to a video file. Its methods are safe for
// concurrent use, so Close may be called from a signal handler while another
// goroutine writes.
type Recorder struct {
	mu     sync.Mutex
	writer *gocv.VideoWriter
	path   string
	codec  string
	fps    float64
	size   image.Point
	frames int
	err    error // sticky: once set, every Write returns it
	closed bool
	// reserve is the free space below which Write stops (0: not checked).
	reserve int64
	file    os.FileInfo // the output as it was at open, to spot replacement

	converted gocv.Mat // grey/BGRA frames turned to BGR
	resized   gocv.Mat // frames of another size scaled to size

	// WriteAt's timeline: the first frame's capture time is slot 0; last
	// is the last frame written, for repeats.
	realTime          bool
	start             time.Time
	last              gocv.Mat
	repeated, skipped int
}

// NewRecorder opens a video file for w x h frames at fps frames per second
// (an odd w or h is written one pixel less: see Size).
// The codec follows the extension: .mp4 and .mov try H.264 (avc1) then
// MPEG-4 (mp4v), .avi uses MJPG, .mkv tries avc1 then MJPG. An existing file
// is overwritten. fps <= 0 or above 1000 means 30.
func NewRecorder(path string, fps float64, w, h int, opts ...RecorderOption) (*Recorder, error) {
	o := recorderOptions{reserve: defaultDiskReserve}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if w <= 0 || h <= 0 || w > maxSide || h > maxSide {
		return nil, fmt.Errorf("sink: recorder frame size %dx%d is invalid; width and height must be 1 to %d", w, h, maxSide)
	}
	codecs, err := codecsFor(path)
	if err != nil {
		return nil, err
	}
	if o.fourcc != "" {
		if err := checkFourCC(o.fourcc); err != nil {
			return nil, err
		}
		codecs = []string{o.fourcc}
	}
	if fps <= 0 || fps > maxFPS || math.IsNaN(fps) {
		fps = defaultFPS
	}
	// H.264 and MJPEG encode 4:2:0 colour, whose planes need even sides:
	// given an odd side, OpenCV's FFmpeg writer quietly wrote one pixel
	// less than asked. The recorder says so instead: it writes the even
	// size, cropping the odd last column or row off each frame (see prepare).
	w, h = evenSide(w), evenSide(h)
	if err := checkWritableDir(path); err != nil {
		return nil, err
	}
	if free := freeBytes(filepath.Dir(path)); o.reserve > 0 && free >= 0 && free < o.reserve {
		return nil, fmt.Errorf("sink: cannot record to %s: %w: only %s free on its file system, %s needed to start; free some space or record to another disk",
			path, ErrDiskFull, mib(free), mib(o.reserve))
	}

	for _, codec := range codecs {
		vw, err := gocv.VideoWriterFile(path, codec, fps, w, h, true)
		if err != nil {
			continue
		}
		if !vw.IsOpened() {
			vw.Close()
			continue
		}
		r := &Recorder{writer: vw, path: path, codec: codec, fps: fps, size: image.Pt(w, h), reserve: o.reserve, realTime: o.realTime}
		// FFmpeg creates the file on open; a backend that creates it
		// lazily gets its identity recorded on the first check instead.
		r.file, _ = os.Stat(path)
		return r, nil
	}
	return nil, fmt.Errorf("sink: could not open a video writer for %s with codec %s: this OpenCV build has no encoder for it; try another extension (%s) or WithFourCC",
		path, strings.Join(codecs, " or "), supportedExts())
}

// TimestampedPath names a recording started at t: dir/rpscam-YYYYMMDD-HHMMSS
// plus ext, with -2, -3 ... before ext while that name is taken, since a
// recording stopped and started again within a second must not overwrite
// the one just finished.
func TimestampedPath(dir string, t time.Time, ext string) string {
	base := filepath.Join(dir, "rpscam-"+t.Format("20060102-150405"))
	path := base + ext
	for i := 2; exists(path); i++ {
		path = fmt.Sprintf("%s-%d%s", base, i, ext)
	}
	return path
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// CheckOutput says whether a recording could be written to path (a known
// extension, an existing writable folder, some free space), without creating
// it, so a command can refuse before it opens the camera. Errors wrap
// ErrUnwritable or ErrDiskFull.
func CheckOutput(path string) error {
	// The folder first: a folder given as the file has no extension, and
	// "extension is not supported" would not say what is wrong.
	if err := checkWritableDir(path); err != nil {
		return err
	}
	if _, err := codecsFor(path); err != nil {
		return err
	}
	if free := freeBytes(filepath.Dir(path)); free >= 0 && free < defaultDiskReserve {
		return fmt.Errorf("sink: cannot record to %s: %w: only %s free on its file system; free some space or record to another disk", path, ErrDiskFull, mib(free))
	}
	return nil
}

func codecsFor(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("sink: %w: the recorder path is empty; give a file name such as out.mp4", ErrUnwritable)
	}
	ext := strings.ToLower(filepath.Ext(path))
	codecs, ok := codecsByExt[ext]
	if !ok {
		return nil, fmt.Errorf("sink: cannot record to %s: %w: extension %q is not supported; use one of %s", path, ErrUnwritable, ext, supportedExts())
	}
	return codecs, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// checkFourCC accepts four printable ASCII characters, the only thing
// OpenCV can turn into a fourcc.
func checkFourCC(code string) error {
	if len(code) != 4 {
		return fmt.Errorf("sink: fourcc %q must be exactly 4 characters, such as avc1, mp4v or MJPG", code)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < 0x20 || code[i] > 0x7e {
			return fmt.Errorf("sink: fourcc %q has a non-printable character; use a code such as avc1, mp4v or MJPG", code)
		}
	}
	return nil
}

// checkWritableDir makes sure the file can be created before OpenCV tries:
// OpenCV's writer reports a failed open with no reason at all.
func checkWritableDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sink: cannot record to %s: %w: directory %s does not exist; create it first", path, ErrUnwritable, dir)
	case err != nil:
		return fmt.Errorf("sink: cannot record to %s: %w: %v", path, ErrUnwritable, err)
	case !st.IsDir():
		return fmt.Errorf("sink: cannot record to %s: %w: %s is not a directory", path, ErrUnwritable, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("sink: cannot record to %s: %w: it is a directory; give a file name inside it", path, ErrUnwritable)
	}
	probe, err := os.CreateTemp(dir, ".rpscam-write-check-*")
	if err != nil {
		return fmt.Errorf("sink: cannot record to %s: %w: directory %s is not writable (%v); choose another folder or fix its permissions", path, ErrUnwritable, dir, err)
	}
	name := probe.Name()
	probe.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("sink: cannot record to %s: could not remove the write check file %s: %v", path, name, err)
	}
	return nil
}

// Write appends one frame. Frames of another size are scaled to the
// recorder's size; grey and BGRA frames are converted to BGR. Once the output
// has failed, Write returns the same error for every later frame.
func (r *Recorder) Write(img gocv.Mat) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return err
	}
	frame, err := r.prepare(img)
	if err != nil {
		return err
	}
	return r.append(frame)
}

// WriteAt writes img as the frame captured at t, on a timeline whose slot 0
// is the first frame's t and whose slots are 1/FPS apart: a frame whose slot
// lies ahead of the file's end is preceded by repeats of the previous frame
// (at most maxRepeatGap of them; a longer gap is cut), one more than a slot
// behind is left out (the file stays within a frame of the wall clock).
// Frames() counts repeats; Repeated and Skipped say how many.
func (r *Recorder) WriteAt(img gocv.Mat, t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return err
	}
	frame, err := r.prepare(img)
	if err != nil {
		return err
	}
	if r.frames == 0 {
		r.start = t
	}
	gap := int(math.Round(t.Sub(r.start).Seconds()*r.fps)) - r.frames
	if gap < -1 {
		r.skipped++
		return nil
	}
	if maxGap := int(maxRepeatGap.Seconds() * r.fps); gap > maxGap {
		// Cut the outage: the timeline resumes maxGap slots after the
		// last frame.
		r.start = r.start.Add(time.Duration(float64(gap-maxGap) / r.fps * float64(time.Second)))
		gap = maxGap
	}
	for i := 0; i < gap && r.frames > 0; i++ {
		if err := r.append(r.last); err != nil {
			return err
		}
		r.repeated++
	}
	if err := r.append(frame); err != nil {
		return err
	}
	if r.last.Ptr() == nil {
		r.last = gocv.NewMat()
	}
	frame.CopyTo(&r.last)
	return nil
}

// Repeated is how many frames WriteAt repeated to fill gaps.
func (r *Recorder) Repeated() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.repeated
}

// Skipped is how many frames WriteAt left out for coming early.
func (r *Recorder) Skipped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

// RealTime says whether Consume places frames by capture time (WithRealTime).
func (r *Recorder) RealTime() bool { return r.realTime }

func (r *Recorder) usable() error {
	if r.closed {
		return ErrClosed
	}
	return r.err
}

// append writes a prepared frame and checks the output now and then. A
// check that fails after the frame is written stops the recording from the
// next frame on: this one is in the file, so it is not reported as lost
// (the command's "processed" and "written" counts agree), and Close and
// every later Write return the failure.
func (r *Recorder) append(frame gocv.Mat) error {
	if err := r.writer.Write(frame); err != nil {
		r.err = fmt.Errorf("sink: recording %s failed after %d frames: %w", r.path, r.frames, err)
		return r.err
	}
	r.frames++
	if r.frames == 1 || r.frames%statEvery == 0 {
		if err := r.checkFile(); err != nil {
			r.err = err
		} else if err := r.checkSpace(); err != nil {
			r.err = err
		}
	}
	return nil
}

// prepare returns img as an 8-bit BGR frame of the recorder's size, using
// the scratch Mats when it needs converting.
func (r *Recorder) prepare(img gocv.Mat) (gocv.Mat, error) {
	if img.Empty() {
		return img, fmt.Errorf("sink: empty frame given to the recorder for %s; skip frames that failed to decode", r.path)
	}
	frame := img
	switch img.Type() {
	case gocv.MatTypeCV8UC3:
	case gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC4:
		if r.converted.Ptr() == nil {
			r.converted = gocv.NewMat()
		}
		code := gocv.ColorGrayToBGR
		if img.Type() == gocv.MatTypeCV8UC4 {
			code = gocv.ColorBGRAToBGR
		}
		gocv.CvtColor(img, &r.converted, code)
		frame = r.converted
	default:
		return img, fmt.Errorf("sink: frame of Mat type %v cannot be recorded; give 8-bit BGR, grey or BGRA", img.Type())
	}
	if frame.Cols() != r.size.X || frame.Rows() != r.size.Y {
		if r.resized.Ptr() == nil {
			r.resized = gocv.NewMat()
		}
		if cropsToSize(frame.Cols(), r.size.X) && cropsToSize(frame.Rows(), r.size.Y) {
			// An odd side one pixel over: crop it rather than blur the
			// whole frame by scaling.
			region := frame.Region(image.Rect(0, 0, r.size.X, r.size.Y))
			region.CopyTo(&r.resized)
			region.Close()
		} else {
			gocv.Resize(frame, &r.resized, r.size, 0, 0, gocv.InterpolationArea)
		}
		frame = r.resized
	}
	return frame, nil
}

// evenSide is side rounded down to even, at least 2.
func evenSide(side int) int { return max(side&^1, 2) }

// cropsToSize says whether a frame side reaches want by cropping alone:
// it is want, or the odd side that evenSide rounded down to want.
func cropsToSize(side, want int) bool { return side == want || (side == want+1 && side%2 == 1) }

// checkFile reports an output that vanished or was replaced: OpenCV keeps
// "writing" into a deleted file without a word, and the recording is lost.
func (r *Recorder) checkFile() error {
	st, err := os.Stat(r.path)
	if err != nil {
		return fmt.Errorf("sink: recording %s: the output file is gone after %d frames (deleted, or its disk unmounted): %v", r.path, r.frames, err)
	}
	if r.file == nil {
		r.file = st
		return nil
	}
	if !os.SameFile(r.file, st) {
		return fmt.Errorf("sink: recording %s: the output file was replaced by another file after %d frames; record to a path nothing else writes", r.path, r.frames)
	}
	return nil
}

// checkSpace stops the recording while the container's index still fits.
func (r *Recorder) checkSpace() error {
	if r.reserve <= 0 {
		return nil
	}
	if free := freeBytes(filepath.Dir(r.path)); free >= 0 && free < r.reserve {
		return fmt.Errorf("sink: recording %s stopped after %d frames: %w: only %s left on its file system; the file is kept playable up to here: free some space or record to another disk",
			r.path, r.frames, ErrDiskFull, mib(free))
	}
	return nil
}

// Frames is how many frames have been written.
func (r *Recorder) Frames() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}

// Codec is the fourcc the file is written with.
func (r *Recorder) Codec() string { return r.codec }

// Path is the output file.
func (r *Recorder) Path() string { return r.path }

// Size is the frame size written into the file: the size NewRecorder was
// given, with an odd side rounded down to even.
func (r *Recorder) Size() image.Point { return r.size }

// FPS is the frame rate written into the file (30 when NewRecorder was given
// a missing or absurd rate).
func (r *Recorder) FPS() float64 { return r.fps }

// Close finishes the file (the container index is written here, so a file
// not closed may not play); a recording that got no frame is removed. It is idempotent and safe to call from any
// goroutine, including a signal handler's, while another one writes. It
// returns the error that stopped the recording, if any.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.writer.Close()
	r.writer = nil
	if r.frames == 0 && r.err == nil {
		// A container with no frames does not play; leave nothing
		// rather than a broken file.
		os.Remove(r.path)
	}
	if r.converted.Ptr() != nil {
		r.converted.Close()
	}
	if r.resized.Ptr() != nil {
		r.resized.Close()
	}
	if r.last.Ptr() != nil {
		r.last.Close()
	}
	return r.err
}

// WriteSummary writes what was recorded, for a command's summary: the file,
// codec, size and rate, the frames processed, written and dropped, and with
// WithRealTime how the timeline was kept.
func (r *Recorder) WriteSummary(w io.Writer, processed int, dropped uint64) {
	fmt.Fprintf(w, "recorded %s: %s, %dx%d at %.4g fps\n", r.Path(), r.Codec(), r.size.X, r.size.Y, r.FPS())
	fmt.Fprintf(w, "frames processed: %d\nframes written: %d\nframes dropped by the source: %d\n", processed, r.Frames(), dropped)
	if r.RealTime() {
		fmt.Fprintf(w, "real-time timing: %d frames repeated over gaps, %d early frames left out (%.1fs of video)\n",
			r.Repeated(), r.Skipped(), float64(r.Frames())/r.FPS())
	}
}
