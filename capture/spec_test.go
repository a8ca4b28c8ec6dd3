package capture_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/capture"
)

func TestParseSpec(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if err := os.WriteFile(clip, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	numbered := filepath.Join(dir, "2024")
	if err := os.WriteFile(numbered, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want capture.Spec
	}{
		{"0", capture.Spec{Kind: capture.Camera, Index: 0, Raw: "0"}},
		{" 7 ", capture.Spec{Kind: capture.Camera, Index: 7, Raw: "7"}},
		{"99", capture.Spec{Kind: capture.Camera, Index: 99, Raw: "99"}},
		{"/dev/video2", capture.Spec{Kind: capture.Device, Path: "/dev/video2", Raw: "/dev/video2"}},
		{"/dev/v4l/by-id/usb-Logitech-video-index0", capture.Spec{Kind: capture.Device, Path: "/dev/v4l/by-id/usb-Logitech-video-index0", Raw: "/dev/v4l/by-id/usb-Logitech-video-index0"}},
		{"rtsp://cam.local:554/stream1", capture.Spec{Kind: capture.URL, Raw: "rtsp://cam.local:554/stream1"}},
		{"RTMP://host/live", capture.Spec{Kind: capture.URL, Raw: "RTMP://host/live"}},
		{"http://192.168.1.5:8080/video.mjpg", capture.Spec{Kind: capture.URL, Raw: "http://192.168.1.5:8080/video.mjpg"}},
		{"https://example.com/a.mp4", capture.Spec{Kind: capture.URL, Raw: "https://example.com/a.mp4"}},
		{"videotestsrc ! videoconvert ! appsink", capture.Spec{Kind: capture.GStreamer, Raw: "videotestsrc ! videoconvert ! appsink"}},
		{"v4l2src!videoconvert!appsink", capture.Spec{Kind: capture.GStreamer, Raw: "v4l2src!videoconvert!appsink"}},
		{"videotestsrc!appsink max-buffers=1 drop=true", capture.Spec{Kind: capture.GStreamer, Raw: "videotestsrc!appsink max-buffers=1 drop=true"}},
		{"rtspsrc location=rtsp://h/s ! decodebin ! videoconvert ! appsink", capture.Spec{Kind: capture.GStreamer, Raw: "rtspsrc location=rtsp://h/s ! decodebin ! videoconvert ! appsink"}},
		{clip, capture.Spec{Kind: capture.File, Path: clip, Raw: clip}},
		{"file://" + clip, capture.Spec{Kind: capture.File, Path: clip, Raw: "file://" + clip}},
		{numbered, capture.Spec{Kind: capture.File, Path: numbered, Raw: numbered}},
	}
	for _, tt := range tests {
		got, err := capture.ParseSpec(tt.in)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		in, wantSubstr string
	}{
		{"", "empty video source"},
		{"   ", "empty video source"},
		{"100", "no such file"}, // past the camera range and not a file
		{"-1", "no such file"},
		{"missing.mp4", "no such file"},
		{"ftp://host/a.mp4", `unsupported URL scheme "ftp"`},
		{"rtsp://", "has no host"},
		{"file://", "names no file"},
		{dir, "is a directory"},
	}
	for _, tt := range tests {
		_, err := capture.ParseSpec(tt.in)
		if err == nil {
			t.Errorf("ParseSpec(%q) succeeded, want error containing %q", tt.in, tt.wantSubstr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantSubstr) {
			t.Errorf("ParseSpec(%q) error %q, want it to contain %q", tt.in, err, tt.wantSubstr)
		}
		// Every error teaches the accepted forms, or names the path.
		if !strings.Contains(err.Error(), "accepted forms") && !strings.Contains(err.Error(), tt.in) {
			t.Errorf("ParseSpec(%q) error %q neither lists accepted forms nor names the input", tt.in, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[capture.Kind]string{capture.Camera: "camera", capture.Device: "device", capture.File: "file",
		capture.URL: "url", capture.GStreamer: "gstreamer", capture.Kind(42): "Kind(42)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"0", "99", "100", "/dev/video0", "rtsp://h/s", "a ! appsink", "x!appsink", "file://", "", "clip.mp4", "http://", " ! "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := capture.ParseSpec(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseSpec(%q): empty error message", s)
			}
			return
		}
		if spec.Raw != strings.TrimSpace(s) {
			t.Fatalf("ParseSpec(%q).Raw = %q, want the trimmed input", s, spec.Raw)
		}
		switch spec.Kind {
		case capture.Camera:
			if spec.Index < 0 || spec.Index > 99 {
				t.Fatalf("ParseSpec(%q): camera index %d out of 0..99", s, spec.Index)
			}
		case capture.Device:
			if !strings.HasPrefix(spec.Path, "/dev/") {
				t.Fatalf("ParseSpec(%q): device path %q not under /dev", s, spec.Path)
			}
		case capture.File:
			st, err := os.Stat(spec.Path)
			if err != nil || st.IsDir() {
				t.Fatalf("ParseSpec(%q): file %q accepted but stat says %v", s, spec.Path, err)
			}
		case capture.URL, capture.GStreamer:
			if spec.Raw == "" {
				t.Fatalf("ParseSpec(%q): empty Raw for %v", s, spec.Kind)
			}
		default:
			t.Fatalf("ParseSpec(%q): unexpected kind %v", s, spec.Kind)
		}
	})
}
