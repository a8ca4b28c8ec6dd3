package capture

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Kind is the sort of video source a spec names.
type Kind int

// Source kinds.
const (
	Camera    Kind = iota // a camera by index: "0"
	Device                // a V4L2 device node: "/dev/video2"
	File                  // a video file path
	URL                   // a network stream: rtsp://, rtmp://, http(s)://, ...
	GStreamer             // a GStreamer pipeline ending in appsink
)

var kindNames = [...]string{"camera", "device", "file", "url", "gstreamer"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's name, so Info reads well as JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Spec is a parsed source string.
type Spec struct {
	Kind  Kind
	Index int    // Camera: the index
	Path  string // Device and File: the path
	Raw   string // the string as given (trimmed)
}

// maxCameraIndex bounds what reads as a camera index: "3" is a camera, a
// file that happens to be named "2024" is not.
const maxCameraIndex = 99

// urlSchemes are the stream protocols FFmpeg opens.
var urlSchemes = []string{"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp"}

const acceptedForms = `accepted forms: a camera index 0-99 ("0"), a V4L2 device ("/dev/video0"), ` +
	`an existing video file ("clip.mp4"), a stream URL ("rtsp://host/stream", "http://host/video.mjpg"), ` +
	`or a GStreamer pipeline ending in appsink ("videotestsrc ! videoconvert ! appsink")`

// ParseSpec decides what kind of source s names. A camera index is 0-99;
// a path under /dev/video or /dev/v4l/ is a device; a string with a URL scheme
// is a URL; a string with " ! " or ending in appsink is a GStreamer pipeline;
// anything else must be an existing file.
func ParseSpec(s string) (Spec, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return Spec{}, errors.New("capture: empty video source; " + acceptedForms)
	}
	if isCameraIndex(raw) {
		n, _ := strconv.Atoi(raw)
		return Spec{Kind: Camera, Index: n, Raw: raw}, nil
	}
	if isGStreamerPipeline(raw) {
		return Spec{Kind: GStreamer, Raw: raw}, nil
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		scheme = strings.ToLower(scheme)
		if scheme == "file" {
			if rest == "" {
				return Spec{}, fmt.Errorf("capture: %q names no file; %s", raw, acceptedForms)
			}
			return fileSpec(raw, rest)
		}
		for _, known := range urlSchemes {
			if scheme == known {
				if rest == "" {
					return Spec{}, fmt.Errorf("capture: URL %q has no host; %s", raw, acceptedForms)
				}
				return Spec{Kind: URL, Raw: raw}, nil
			}
		}
		return Spec{}, fmt.Errorf("capture: unsupported URL scheme %q in %q (supported: %s); %s",
			scheme, raw, strings.Join(urlSchemes, ", "), acceptedForms)
	}
	if strings.HasPrefix(raw, "/dev/video") || strings.HasPrefix(raw, "/dev/v4l/") {
		return Spec{Kind: Device, Path: raw, Raw: raw}, nil
	}
	return fileSpec(raw, raw)
}

func fileSpec(raw, path string) (Spec, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
		return Spec{}, fmt.Errorf("capture: video source %q is not a camera index, device, URL or pipeline, and no such file exists; %s", raw, acceptedForms)
	case err != nil:
		return Spec{}, fmt.Errorf("capture: video file %q: %w", path, err)
	case st.IsDir():
		return Spec{}, fmt.Errorf("capture: %q is a directory, not a video file (to classify the images in a folder use ListImages / the classify command); %s", path, acceptedForms)
	}
	return Spec{Kind: File, Path: path, Raw: raw}, nil
}

func isCameraIndex(s string) bool {
	if len(s) == 0 || len(s) > 2 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(s)
	return n <= maxCameraIndex
}

// isGStreamerPipeline reports gst-launch syntax: elements linked with " ! ",
// or linked with bare "!" and ending in an appsink (possibly with properties).
func isGStreamerPipeline(s string) bool {
	if strings.Contains(s, " ! ") {
		return true
	}
	elements := strings.Split(s, "!")
	if len(elements) < 2 {
		return false
	}
	last := strings.Fields(elements[len(elements)-1])
	return len(last) > 0 && last[0] == "appsink"
}
