package sink

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

func TestDisplayUnset(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := DisplayAvailable()
	if !errors.Is(err, ErrNoDisplay) {
		t.Fatalf("DisplayAvailable with no DISPLAY: %v, want ErrNoDisplay", err)
	}
	for _, want := range []string{"no display: DISPLAY is not set", "rpscam record", "rpscam serve"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// NewWindow must return the error, not let Qt abort the process.
	w, err := NewWindow("rpscam", 320, 240)
	if !errors.Is(err, ErrNoDisplay) {
		if w != nil {
			w.Close()
		}
		t.Fatalf("NewWindow with no DISPLAY: %v, want ErrNoDisplay", err)
	}
}

// freeDisplay picks a display number with no X server socket or lock file.
func freeDisplay(t *testing.T) int {
	t.Helper()
	start := 100 + rand.Intn(400)
	for n := start; n < start+200; n++ {
		_, errSock := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		_, errLock := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		if errors.Is(errSock, os.ErrNotExist) && errors.Is(errLock, os.ErrNotExist) {
			return n
		}
	}
	t.Fatal("no free X display number")
	return 0
}

func TestDisplayWithoutServer(t *testing.T) {
	displays := []string{":" + strconv.Itoa(freeDisplay(t))}
	if _, err := os.Stat("/tmp/.X11-unix/X99"); errors.Is(err, os.ErrNotExist) {
		displays = append(displays, ":99")
	}
	for _, d := range displays {
		t.Setenv("DISPLAY", d)
		err := DisplayAvailable()
		if !errors.Is(err, ErrNoDisplay) {
			t.Fatalf("DISPLAY=%s with no server: %v, want ErrNoDisplay", d, err)
		}
		if want := "X server at " + d + " unreachable"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	t.Setenv("DISPLAY", "nonsense")
	if err := DisplayAvailable(); !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "[host]:number") {
		t.Errorf("DISPLAY=nonsense: %v, want ErrNoDisplay explaining the form", err)
	}
}

func TestDisplayOverTCP(t *testing.T) {
	// A listener on 6000+n stands in for a remote X server (ssh -X sets
	// DISPLAY=localhost:10.0).
	var ln net.Listener
	var n int
	for n = 60; n < 120; n++ {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(6000+n)); err == nil {
			break
		}
	}
	if ln == nil {
		t.Skip("no free TCP port in 6060-6119 to stand in for an X server")
	}
	defer ln.Close()
	env := map[string]string{"DISPLAY": "127.0.0.1:" + strconv.Itoa(n) + ".0"}
	if err := displayAvailable(func(k string) string { return env[k] }); err != nil {
		t.Errorf("DISPLAY=%s with a listener: %v, want nil", env["DISPLAY"], err)
	}
	ln.Close()
	err := displayAvailable(func(k string) string { return env[k] })
	if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), strconv.Itoa(6000+n)) {
		t.Errorf("DISPLAY=%s after the listener closed: %v, want ErrNoDisplay naming port %d", env["DISPLAY"], err, 6000+n)
	}
}

func TestXServerAddrs(t *testing.T) {
	for _, c := range []struct {
		display string
		want    []netAddr
	}{
		{":0", []netAddr{{"unix", "@/tmp/.X11-unix/X0"}, {"unix", "/tmp/.X11-unix/X0"}}},
		{":1.0", []netAddr{{"unix", "@/tmp/.X11-unix/X1"}, {"unix", "/tmp/.X11-unix/X1"}}},
		{"unix:7", []netAddr{{"unix", "@/tmp/.X11-unix/X7"}, {"unix", "/tmp/.X11-unix/X7"}}},
		{"localhost:10.0", []netAddr{{"tcp", "localhost:6010"}}},
		{"[::1]:2", []netAddr{{"tcp", "[::1]:6002"}}},
		{"/private/tmp/com.apple.launchd.x/org.xquartz:0", []netAddr{{"unix", "/private/tmp/com.apple.launchd.x/org.xquartz:0"}}},
	} {
		got, err := xServerAddrs(c.display)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("xServerAddrs(%q) = %v, %v; want %v", c.display, got, err, c.want)
		}
	}
	for _, bad := range []string{"host", ":x", ":-1", "host:"} {
		if _, err := xServerAddrs(bad); err == nil {
			t.Errorf("xServerAddrs(%q) succeeded, want an error", bad)
		}
	}
}

func TestWaylandOnly(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "wayland-1"))
	if err != nil {
		t.Skipf("cannot listen on a unix socket: %v", err)
	}
	defer ln.Close()
	env := map[string]string{"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": dir}
	getenv := func(k string) string { return env[k] }
	if err := displayAvailable(getenv); !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "QT_QPA_PLATFORM=wayland") {
		t.Errorf("Wayland without QT_QPA_PLATFORM: %v, want ErrNoDisplay pointing at QT_QPA_PLATFORM", err)
	}
	env["QT_QPA_PLATFORM"] = "wayland"
	if err := displayAvailable(getenv); err != nil {
		t.Errorf("Wayland with QT_QPA_PLATFORM=wayland and a live socket: %v", err)
	}
	env["WAYLAND_DISPLAY"] = "wayland-9"
	if err := displayAvailable(getenv); !errors.Is(err, ErrNoDisplay) {
		t.Errorf("Wayland with a dead socket: %v, want ErrNoDisplay", err)
	}
}

// The window test runs OpenCV's Qt window in a child process: Qt connects to
// one X server for the life of a process and exits the process when that
// server goes away, which the test's cleanup does.
const windowHelperEnv = "RPSCAM_SINK_WINDOW_HELPER_SCREENSHOT"

// Colours of the two halves of the frame shown in the window.
var (
	leftColour  = color.RGBA{R: 255, G: 0, B: 200, A: 255}
	rightColour = color.RGBA{R: 0, G: 220, B: 90, A: 255}
)

func TestWindowShowsFrames(t *testing.T) {
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb is not installed (apt-get install xvfb)")
	}
	if _, err := exec.LookPath("import"); err != nil {
		t.Skip("ImageMagick's import is not installed (apt-get install imagemagick)")
	}
	display := startXvfb(t, xvfb)

	shot := filepath.Join(t.TempDir(), "screen.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWindowHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "DISPLAY="+display, windowHelperEnv+"="+shot)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("window helper process failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("window helper did not pass:\n%s", out)
	}

	// Native size: each half of the 320x240 frame is 160x240 pixels.
	const half = 160 * 240
	left, right := screenshotCounts(t, shot+".native.png")
	if left < half*95/100 || right < half*95/100 {
		t.Errorf("native-size window: %d pixels of the left colour and %d of the right, want about %d each", left, right, half)
	}
	// Sized 480x360: the frame is scaled up into what Qt's toolbar leaves.
	left, right = screenshotCounts(t, shot+".sized.png")
	if left < half*120/100 || right < half*120/100 {
		t.Errorf("480x360 window: %d pixels of the left colour and %d of the right, want the halves scaled up beyond %d", left, right, half*120/100)
	}
}

// screenshotCounts counts the pixels of the two frame colours in a
// screenshot; the colours are far from Qt's grey and Xvfb's black.
func screenshotCounts(t *testing.T, path string) (left, right int) {
	t.Helper()
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Empty() {
		t.Fatalf("screenshot %s is unreadable", path)
	}
	left, right = countNear(img, leftColour, 12), countNear(img, rightColour, 12)
	t.Logf("%s (%dx%d): %d left-colour and %d right-colour pixels", filepath.Base(path), img.Cols(), img.Rows(), left, right)
	if keep := os.Getenv("RPSCAM_SINK_SCREENSHOT"); keep != "" {
		gocv.IMWrite(keep+"."+filepath.Base(path), img)
	}
	return left, right
}

// TestWindowHelperProcess is the child of TestWindowShowsFrames; it does
// nothing in a normal run.
func TestWindowHelperProcess(t *testing.T) {
	shot := os.Getenv(windowHelperEnv)
	if shot == "" {
		t.Skip("helper for TestWindowShowsFrames")
	}
	frame := solidHalves(320, 240)
	defer frame.Close()
	showAndShoot(t, frame, 0, 0, shot+".native.png")
	showAndShoot(t, frame, 480, 360, shot+".sized.png")
}

func showAndShoot(t *testing.T, frame gocv.Mat, w, h int, shot string) {
	win, err := NewWindow("rpscam sink test", w, h)
	if err != nil {
		t.Fatalf("NewWindow on DISPLAY=%s: %v", os.Getenv("DISPLAY"), err)
	}
	defer win.Close()
	// Show repeatedly: the window maps and paints over several event loop
	// turns.
	for i := 0; i < 40; i++ {
		if key := win.Show(frame); key != -1 {
			t.Errorf("Show returned key %d with nobody typing, want -1", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if win.UserClosed() {
		t.Error("UserClosed is true for a window nobody closed")
	}
	empty := gocv.NewMat()
	defer empty.Close()
	win.Show(empty) // skipped, must not abort
	cmd := exec.Command("import", "-display", os.Getenv("DISPLAY"), "-window", "root", shot)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("screenshot with import: %v\n%s", err, out)
	}
	if err := win.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := win.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if key := win.Show(frame); key != -1 {
		t.Errorf("Show after Close returned %d, want -1", key)
	}
	if !win.UserClosed() {
		t.Error("UserClosed is false after Close")
	}
	// Let Qt process the destruction before the next window.
	gocv.WaitKey(50)
}

func solidHalves(w, h int) gocv.Mat {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	fill := func(r image.Rectangle, c color.RGBA) {
		region := m.Region(r)
		region.SetTo(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0))
		region.Close()
	}
	fill(image.Rect(0, 0, w/2, h), leftColour)
	fill(image.Rect(w/2, 0, w, h), rightColour)
	return m
}

func countNear(img gocv.Mat, c color.RGBA, tol int) int {
	data := img.ToBytes()
	abs := func(a, b uint8) int {
		if a > b {
			return int(a - b)
		}
		return int(b - a)
	}
	n := 0
	for i := 0; i+2 < len(data); i += 3 {
		if abs(data[i], c.B) <= tol && abs(data[i+1], c.G) <= tol && abs(data[i+2], c.R) <= tol {
			n++
		}
	}
	return n
}

// startXvfb starts a virtual X server on a free display, waits until it
// accepts connections and stops it when the test ends.
func startXvfb(t *testing.T, xvfb string) string {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		if display, ok := tryXvfb(t, xvfb); ok {
			return display
		}
	}
	t.Fatal("could not start Xvfb on a free display")
	return ""
}

// tryXvfb starts Xvfb once; false when it exited early, most likely because
// another process took the display number first.
func tryXvfb(t *testing.T, xvfb string) (string, bool) {
	t.Helper()
	display := ":" + strconv.Itoa(freeDisplay(t))
	cmd := exec.Command(xvfb, display, "-screen", "0", "1280x720x24", "-nolisten", "tcp")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// SIGTERM lets Xvfb remove its socket and lock file (a killed one
	// leaves them behind and the display number stays taken).
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	env := map[string]string{"DISPLAY": display}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Logf("Xvfb %s exited: %v", display, err)
			return "", false
		default:
		}
		if displayAvailable(func(k string) string { return env[k] }) == nil {
			t.Cleanup(stop)
			return display, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	t.Fatalf("Xvfb on %s did not accept connections within 15s", display)
	return "", false
}
