package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeReconnectsAndSIGTERMFinalizesRecording runs the built binary on
// a live GStreamer source that stops every 45 frames, as a camera that is
// unplugged and plugged back would. While it is away /healthz must answer
// 503 "reconnecting…", and 200 once frames flow again. A recording started
// through POST /api/record and ended by SIGTERM must be a playable file
// holding exactly the frames the server says it wrote.
func TestServeReconnectsAndSIGTERMFinalizesRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	model := tinyModelFile(t)
	bin := buildRpscam(t)
	recDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, base, w, stdout := startServe(t, ctx, bin, "--model", model, "--device", "cpu", "--record-dir", recDir,
		"--input", "videotestsrc is-live=true num-buffers=45 ! video/x-raw,width=160,height=120,framerate=30/1 ! videoconvert ! appsink")
	defer cmd.Process.Kill()

	health := func() (int, string) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	// waitHealth polls until the health check answers code with a body
	// containing want; the source's own pace sets how long that takes.
	waitHealth := func(code int, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var got int
		var body string
		for time.Now().Before(deadline) {
			if got, body = health(); got == code && strings.Contains(body, want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("/healthz never answered %d %q (last %d %q)\n%s", code, want, got, body, w.String())
	}
	waitHealth(http.StatusOK, "ok")

	// DNS rebinding: a foreign name for 127.0.0.1 is refused, and logged.
	evil, _ := http.NewRequest("GET", base+"/api/prediction", nil)
	evil.Host = "evil.example"
	if resp, err := http.DefaultClient.Do(evil); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /api/prediction with Host evil.example: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	resp, err := http.Post(base+"/api/record", "application/json", strings.NewReader(`{"action":"start"}`))
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		Active bool   `json:"active"`
		Path   string `json:"path"`
	}
	json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !started.Active || filepath.Dir(started.Path) != recDir {
		t.Fatalf("POST /api/record: %d %+v", resp.StatusCode, started)
	}

	// The source ends after 45 frames (1.5 s): reconnecting, then back.
	waitHealth(http.StatusServiceUnavailable, "reconnecting to videotestsrc")
	waitHealth(http.StatusOK, "ok")
	// Let the restored source add frames to the recording.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if seq := publishedSeq(base); seq >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frames after the reconnection:\n%s", w.String())
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-w.done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s%s", err, stdout.String(), w.String())
	}
	logs := w.String()
	for _, want := range []string{"stopped delivering frames after 45 frames", "is back; frames flow again", "refused request", "host=evil.example"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logs)
		}
	}
	m := regexp.MustCompile(`recording stopped at shutdown"? path=(\S+) frames=(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no shutdown recording line:\n%s", logs)
	}
	written, _ := strconv.Atoi(m[2])
	if m[1] != started.Path || written <= 45 {
		t.Fatalf("recording %s with %d frames; started %s", m[1], written, started.Path)
	}
	if n := readVideo(t, started.Path, nil); n != written {
		t.Fatalf("%s plays %d frames, the server wrote %d", started.Path, n, written)
	}
	t.Logf("recorded %d frames across a reconnection, finalized on SIGTERM", written)
}

// startServe starts the built binary's serve on a free loopback port with
// args and waits until it listens; base is its http:// address. The test
// kills it (defer cmd.Process.Kill()) or signals it.
func startServe(t *testing.T, ctx context.Context, bin string, args ...string) (cmd *exec.Cmd, base string, w *lineWatcher, stdout *bytes.Buffer) {
	t.Helper()
	cmd = exec.CommandContext(ctx, bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout = &bytes.Buffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	addrRE := regexp.MustCompile(`open http://(\S+)/`)
	w = watch(stderr, addrRE)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.matched:
	case <-w.done:
		cmd.Wait()
		t.Fatalf("serve ended before listening:\n%s", w.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not start in 60 s:\n%s", w.String())
	}
	return cmd, "http://" + addrRE.FindStringSubmatch(w.String())[1], w, stdout
}

// publishedSeq is the hub's count of published frames, from the newest
// snapshot's header; 0 when none.
func publishedSeq(base string) int {
	resp, err := http.Get(base + "/snapshot.jpg")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	n, _ := strconv.Atoi(resp.Header.Get("X-Frame-Seq"))
	return n
}

func TestServeAllowedHostFlag(t *testing.T) {
	for _, bad := range []string{"http://cam.lan", "cam.lan:8080", ""} {
		code, _, stderr := runCmd(t, "serve", "--allowed-host", bad, "--input", "57")
		if code != 2 || !strings.Contains(stderr, "--allowed-host") || !strings.Contains(stderr, "without scheme, port or path") {
			t.Errorf("--allowed-host %q: exit %d, %q; want 2 naming the form", bad, code, stderr)
		}
	}
}
