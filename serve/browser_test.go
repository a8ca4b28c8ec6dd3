package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns a Chromium/Chrome binary: $RPSCAM_CHROMIUM, else the
// first of the usual names on $PATH.
func findChromium() string {
	if p := os.Getenv("RPSCAM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPageInHeadlessChromium loads the page in a real browser and checks that
// the MJPEG <img> decodes, the label follows the stream, and the record
// buttons work. Set RPSCAM_SERVE_SCREENSHOT=path.png to save a screenshot
// (docs/serve.png is made this way).
func TestPageInHeadlessChromium(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no chromium on $PATH (set RPSCAM_CHROMIUM to a Chromium or Chrome binary to run the browser test)")
	}
	rec, err := NewVideoRecorder(t.TempDir(), 15, withContainer(".avi", "MJPG"))
	if err != nil {
		t.Fatal(err)
	}
	hub, s, ts := newTestServer(t, WithRecording(rec))

	stopPublishing := publishGestures(t, hub, s, rec)
	defer stopPublishing()

	ctx := openPage(t, chromium, ts.URL+"/")

	checkLiveStream(t, ctx)

	checkRecordButtons(t, ctx, rec)
	checkScreenshot(t, ctx)

	// A 4-class model's no-hand class: the page shows "no hand", with the
	// neutral icon, and names the fourth bar "no hand" too.
	stopPublishing()
	publish4(t, hub, "none", 1000)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("label").textContent === "no hand"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("a none prediction never showed as \"no hand\": %v", err)
	}
	icon, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("label-icon")))
	if err != nil || icon != "–" {
		t.Errorf("no-hand icon %q (%v), want \"–\" rather than a gesture's initial", icon, err)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#bars .bar .name"), (e) => e.textContent)`))
	if err != nil || !slices.Equal(names, []string{"rock", "paper", "scissors", "no hand"}) {
		t.Errorf("bar names %q (%v), want rock, paper, scissors, no hand", names, err)
	}
}

// publishGestures plays a source whose gesture changes every 15 frames (1 s
// at 15 FPS) into hub and rec until the returned stop is called (stop waits
// for it to end and may be called twice).
func publishGestures(t *testing.T, hub *Hub, s *Server, rec *VideoRecorder) (stop func()) {
	pubCtx, cancel := context.WithCancel(context.Background())
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := uint64(1); pubCtx.Err() == nil; i++ {
			label := testLabels[(i/15)%3]
			m := drawFrame(label, i, 640, 480)
			p := testPrediction(label, i)
			p.FPS = 0 // let the hub measure it
			s.ObserveFrame(FrameStats{Stages: map[string]time.Duration{"infer": 7 * time.Millisecond}})
			err := rec.WriteFrame(m)
			if err == nil {
				err = hub.Publish(m, p)
			}
			m.Close()
			if err != nil {
				if err != ErrHubClosed {
					t.Error(err)
				}
				return
			}
			sleepCtx(pubCtx, time.Second/15)
		}
	}()
	return func() { cancel(); <-published }
}

// checkLiveStream: the MJPEG <img> decodes, the label follows the stream,
// the bars, status pill and FPS are shown.
func checkLiveStream(t *testing.T, ctx context.Context) {
	t.Helper()
	natural, err := chromedp.Run(ctx, chromedp.Poll[[]int](
		`(() => { const i = document.getElementById("stream"); return i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight]; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("the stream <img> never decoded a frame: %v", err)
	}
	if !slices.Equal(natural, []int{640, 480}) {
		t.Fatalf("stream natural size %v, want [640 480]", natural)
	}

	// The label must follow the stream: read one, then wait for another.
	first, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const l = document.getElementById("label").textContent; return l !== "waiting" && l; })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("no prediction reached the page: %v", err)
	}
	second, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const l = document.getElementById("label").textContent; return l !== `+jsString(first)+` && l; })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("label stayed %q while the stream changed gesture: %v", first, err)
	}
	if !slices.Contains(testLabels, first) || !slices.Contains(testLabels, second) {
		t.Fatalf("labels %q then %q, want gestures", first, second)
	}
	t.Logf("label went %s -> %s", first, second)

	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#bars .bar").length`))
	if err != nil || bars != 3 {
		t.Fatalf("%d probability bars (%v), want 3", bars, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent === "live"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("status pill never said live: %v", err)
	}
	fps, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("fps")))
	if err != nil || fps == "–" || fps == "" {
		t.Fatalf("FPS shows %q (%v), want a number", fps, err)
	}

}

// checkRecordButtons records for about a second through the page's button.
func checkRecordButtons(t *testing.T, ctx context.Context, rec *VideoRecorder) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitEnabled(chromedp.ID("record")),
		chromedp.Click(chromedp.ID("record")),
		chromedp.WaitVisible(chromedp.CSS(".btn-rec.active")),
		chromedp.Sleep(time.Second),
		chromedp.Click(chromedp.ID("record")),
	); err != nil {
		t.Fatalf("record buttons: %v", err)
	}
	recMsg, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const m = document.getElementById("rec-msg").textContent; return m.startsWith("saved") && m; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("page never confirmed the saved recording: %v", err)
	}
	if !strings.Contains(recMsg, ".avi") || !strings.Contains(recMsg, "frames") || rec.Active() {
		t.Fatalf("after stop the page says %q (recorder active %v)", recMsg, rec.Active())
	}
	t.Logf("page: %s", recMsg)

}

// checkScreenshot takes the page's screenshot at a "paper" moment, so the
// picture is the same every run (saved to $RPSCAM_SERVE_SCREENSHOT if set).
func checkScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`document.getElementById("rec-msg").textContent = ""`)(ctx, tg)
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.getElementById("label").textContent === "paper"`,
				chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
			return err
		}),
		chromedp.Sleep(300*time.Millisecond),
	); err != nil {
		t.Fatalf("preparing the screenshot: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 760 {
		t.Fatalf("screenshot is %v, want the 1280x760 viewport", b)
	}
	if out := os.Getenv("RPSCAM_SERVE_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}

}

// openPage loads url in a headless chromium and returns a context for the
// steps after it, bounded to 90 s; the browser closes when the test ends.
func openPage(t *testing.T, chromium, url string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 760),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelBrowser)
	// The first Do starts the browser, which lives as long as that call's
	// context: so no timeout on it, only on the steps after it.
	if err := chromedp.Do(browser, chromedp.EmulateViewport(1280, 760), chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading the page in %s: %v", chromium, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browser, 90*time.Second)
	t.Cleanup(cancelTimeout)

	return ctx
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestTeachPanelInHeadlessChromium teaches through the page in a real
// browser: hold each class's button (real mouse presses) so the live frames
// become samples, see the thumbnails, Train, watch the progress and the
// figures, and see the label switch to what the taught model says; Reset
// switches it back.
func TestTeachPanelInHeadlessChromium(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("no chromium on $PATH (set RPSCAM_CHROMIUM to a Chromium or Chrome binary to run the browser test)")
	}
	// The fake pipeline's classifier says rock with the shipped model and
	// paper with a taught one: the swap changes which.
	var taught atomic.Bool
	ft := newFakeTeacher(t, 5, func(path string) error {
		taught.Store(strings.Contains(filepath.Base(path), "taught"))
		return nil
	})
	ft.delay = 300 * time.Millisecond
	hub, s, ts := newTestServer(t, WithTeacher(ft))
	pubCtx, stopPublishing := context.WithCancel(context.Background())
	published := make(chan struct{})
	go func() {
		defer close(published)
		roi := image.Rect(80, 40, 240, 200)
		for i := uint64(1); pubCtx.Err() == nil; i++ {
			label := "rock"
			if taught.Load() {
				label = "paper"
			}
			m := drawFrame(label, i, 320, 240)
			s.TeachFrame(m, roi) // as captured, before the overlay
			err := hub.Publish(m, testPrediction(label, i))
			m.Close()
			if err != nil {
				if err != ErrHubClosed {
					t.Error(err)
				}
				return
			}
			sleepCtx(pubCtx, time.Second/20)
		}
	}()
	t.Cleanup(func() { stopPublishing(); <-published })

	ctx := openPage(t, chromium, ts.URL+"/")
	poll := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll("the Teach panel never listed the 4 classes", `document.querySelectorAll("#teach-classes .teach-class .hold:not([disabled])").length === 4`)
	poll("the label never showed the shipped model's rock", `document.getElementById("label").textContent === "rock"`)

	for _, class := range ft.Classes() {
		sel := `document.querySelector('#teach-classes [data-class="` + class + `"] .hold')`
		box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const b = `+sel+`; b.scrollIntoView({ block: "center" }); const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`))
		if err != nil {
			t.Fatal(err)
		}
		x, y := box[0], box[1]
		if err := chromedp.Do(ctx, chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
			t.Fatal(err)
		}
		poll("the held "+class+" button never showed it records", sel+`.classList.contains("active") && /rec [1-9]/.test(`+sel+`.textContent)`)
		time.Sleep(500 * time.Millisecond)
		if err := chromedp.Do(ctx, chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1))); err != nil {
			t.Fatal(err)
		}
		poll("the released "+class+" button stayed active", `!`+sel+`.classList.contains("active")`)
		n := ft.Counts()[class]
		if n < 5 {
			t.Fatalf("holding %s about 0.6 s at 20 FPS saved %d samples", class, n)
		}
		poll(fmt.Sprintf("the %s button never showed its %d samples", class, n), fmt.Sprintf(`%s.textContent.includes("%d samples") && !%s.textContent.includes("rec")`, sel, n, sel))
		// No frame after the release was saved.
		time.Sleep(200 * time.Millisecond)
		if m := ft.Counts()[class]; m != n {
			t.Fatalf("%s went from %d to %d samples after the release", class, n, m)
		}
	}
	poll("thumbnails never decoded", `Array.from(document.querySelectorAll('#teach-classes [data-class="rock"] .thumbs img')).filter((i) => i.naturalWidth === 160).length === 4`)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("train"))); err != nil {
		t.Fatal(err)
	}
	poll("no progress while training", `!document.getElementById("train-progress").hidden && /training [1-4]\/4/.test(document.querySelector("#train-progress .text").textContent)`)
	poll("the Train button stayed enabled while training", `document.getElementById("train").disabled`)
	poll("no before/after figures", `document.getElementById("train-result").textContent.startsWith("held-out accuracy 50% → 100% (8 frames)")`)
	poll("the label never switched to the taught model's paper", `document.getElementById("label").textContent === "paper"`)
	poll("the panel does not say the taught model runs", `document.getElementById("teach-model").textContent === "taught: taught-1.onnx"`)
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("download").getAttribute("aria-disabled") + " " + document.getElementById("download").href`))
	if err != nil || href != "false "+ts.URL+"/api/teach/model" {
		t.Fatalf("download link %q (%v)", href, err)
	}

	if out := os.Getenv("RPSCAM_TEACH_SCREENSHOT"); out != "" {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("teach").scrollIntoView({ block: "center" })`)); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
	poll("Reset is not enabled after training", `!document.getElementById("reset").disabled`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("reset"))); err != nil {
		t.Fatal(err)
	}
	poll("the label never went back to rock after Reset", `document.getElementById("label").textContent === "rock"`)
	poll("the page does not say it went back", `document.getElementById("train-result").textContent === "back to the shipped model"`)
}
