package sink

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoDisplay is wrapped by every error that says no window can be shown.
var ErrNoDisplay = errors.New("no display")

// noDisplayFix is the advice every ErrNoDisplay error ends with.
const noDisplayFix = "use `rpscam record` or `rpscam serve` instead"

// dialTimeout bounds the check of a remote (TCP) X server; a local socket
// answers or fails at once.
const dialTimeout = time.Second

// DisplayAvailable reports whether a window can be shown: nil when the X
// server named by DISPLAY accepts connections. It never touches OpenCV or
// Qt, because creating a window without a display aborts the whole process.
// The error wraps ErrNoDisplay.
func DisplayAvailable() error {
	return displayAvailable(os.Getenv)
}

func displayAvailable(getenv func(string) string) error {
	display := getenv("DISPLAY")
	if display == "" {
		wayland := getenv("WAYLAND_DISPLAY")
		if wayland == "" {
			return fmt.Errorf("%w: DISPLAY is not set; %s", ErrNoDisplay, noDisplayFix)
		}
		return waylandAvailable(getenv, wayland)
	}
	addrs, err := xServerAddrs(display)
	if err != nil {
		return fmt.Errorf("%w: %v; %s", ErrNoDisplay, err, noDisplayFix)
	}
	var errs []string
	for _, a := range addrs {
		conn, err := net.DialTimeout(a.network, a.address, dialTimeout)
		if err == nil {
			conn.Close()
			return nil
		}
		errs = append(errs, err.Error())
	}
	return fmt.Errorf("%w: X server at %s unreachable (%s); %s", ErrNoDisplay, display, strings.Join(errs, "; "), noDisplayFix)
}

type netAddr struct{ network, address string }

// xServerAddrs turns a DISPLAY value ("[host]:n[.screen]") into the
// addresses its X server listens on: the local socket for ":n" and
// "unix:n" (abstract namespace first, as Xorg and Xvfb on Linux listen
// there too), TCP port 6000+n for "host:n", the socket itself for XQuartz's
// "/path/to/socket:n".
func xServerAddrs(display string) ([]netAddr, error) {
	if strings.HasPrefix(display, "/") {
		return []netAddr{{"unix", display}}, nil
	}
	colon := strings.LastIndex(display, ":")
	if colon < 0 {
		return nil, fmt.Errorf("DISPLAY=%q is not of the form [host]:number", display)
	}
	host, num := display[:colon], display[colon+1:]
	if dot := strings.Index(num, "."); dot >= 0 {
		num = num[:dot]
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 59535 {
		return nil, fmt.Errorf("DISPLAY=%q has no valid display number", display)
	}
	if host == "" || host == "unix" {
		socket := "/tmp/.X11-unix/X" + strconv.Itoa(n)
		return []netAddr{{"unix", "@" + socket}, {"unix", socket}}, nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return []netAddr{{"tcp", net.JoinHostPort(host, strconv.Itoa(6000+n))}}, nil
}

// waylandAvailable accepts a Wayland-only session only when Qt is told to use
// its Wayland plugin: OpenCV's Qt 5 window otherwise needs X (XWayland sets
// DISPLAY) and aborts without it.
func waylandAvailable(getenv func(string) string, wayland string) error {
	if !strings.HasPrefix(getenv("QT_QPA_PLATFORM"), "wayland") {
		return fmt.Errorf("%w: DISPLAY is not set (WAYLAND_DISPLAY is, but OpenCV's Qt window needs XWayland or QT_QPA_PLATFORM=wayland); %s", ErrNoDisplay, noDisplayFix)
	}
	socket := wayland
	if !filepath.IsAbs(socket) {
		dir := getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			return fmt.Errorf("%w: WAYLAND_DISPLAY=%s but XDG_RUNTIME_DIR is not set; %s", ErrNoDisplay, wayland, noDisplayFix)
		}
		socket = filepath.Join(dir, wayland)
	}
	conn, err := net.DialTimeout("unix", socket, dialTimeout)
	if err != nil {
		return fmt.Errorf("%w: Wayland compositor at %s unreachable (%v); %s", ErrNoDisplay, socket, err, noDisplayFix)
	}
	conn.Close()
	return nil
}
