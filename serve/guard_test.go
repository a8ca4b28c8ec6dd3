package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// send makes a request to base+path with the given Host (empty: the URL's),
// Origin (empty: none) and JSON body (empty: none), and returns the status
// and the body's "error" field (or the whole body when it is not JSON).
func send(t *testing.T, method, base, path, host, origin, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A stream never ends by itself: read only what an error or a first
	// part needs.
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct{ Error string }
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(raw)
}

// TestDNSRebindingIsRefused: a page whose name rebinds to 127.0.0.1 makes
// the browser send its own name as Host; every endpoint must refuse it.
func TestDNSRebindingIsRefused(t *testing.T) {
	logs := &syncBuffer{}
	rec := &fakeRecording{}
	hub, _, ts := newTestServer(t, WithRecording(rec), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	publish(t, hub, "rock", 1)
	port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/", ""},
		{"GET", "/api/prediction", ""},
		{"GET", "/stream.mjpg", ""},
		{"GET", "/api/events", ""},
		{"GET", "/snapshot.jpg", ""},
		{"GET", "/metrics", ""},
		{"GET", "/healthz", ""},
		{"POST", "/api/record", `{"action":"start"}`},
	} {
		for _, host := range []string{"evil.example", "evil.example:" + port, "localhost.evil.example", "127.0.0.1.nip.io"} {
			code, msg := send(t, c.method, ts.URL, c.path, host, "", c.body)
			if code != http.StatusForbidden || !strings.Contains(msg, "--allowed-host") {
				t.Errorf("%s %s with Host %s: %d %q, want 403 naming --allowed-host", c.method, c.path, host, code, msg)
			}
		}
	}
	if rec.starts != 0 {
		t.Fatalf("a refused POST started %d recordings", rec.starts)
	}
	if n := strings.Count(logs.String(), "refused request"); n != 8*4 {
		t.Errorf("%d refusal log lines for 32 refusals:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "host=evil.example") {
		t.Errorf("refusal log does not name the host:\n%s", logs.String())
	}

	// The names a loopback listener answers to.
	for _, host := range []string{"", "localhost:" + port, "LOCALHOST.:" + port, "127.0.0.1", "[::1]:" + port, "127.0.0.2:" + port} {
		if code, msg := send(t, "GET", ts.URL, "/api/prediction", host, "", ""); code != http.StatusOK {
			t.Errorf("GET /api/prediction with Host %q: %d %q, want 200", host, code, msg)
		}
	}
}

func TestAllowedHostPasses(t *testing.T) {
	rec := &fakeRecording{}
	hub, _, ts := newTestServer(t, WithRecording(rec), WithAllowedHosts("rpscam.lan", "Cam.Example."))
	publish(t, hub, "paper", 1)
	for _, host := range []string{"rpscam.lan:8080", "rpscam.lan", "cam.example"} {
		if code, msg := send(t, "GET", ts.URL, "/api/prediction", host, "", ""); code != http.StatusOK {
			t.Errorf("Host %s: %d %q, want 200", host, code, msg)
		}
	}
	if code, msg := send(t, "POST", ts.URL, "/api/record", "rpscam.lan:8080", "http://rpscam.lan:8080", `{"action":"start"}`); code != http.StatusOK || rec.starts != 1 {
		t.Fatalf("same-origin POST by the allowed name: %d %q (starts %d)", code, msg, rec.starts)
	}
	if code, _ := send(t, "GET", ts.URL, "/api/prediction", "other.lan", "", ""); code != http.StatusForbidden {
		t.Fatalf("a name not allowed: %d, want 403", code)
	}

	_, _, open := newTestServer(t, WithAllowedHosts("*"))
	if code, msg := send(t, "GET", open.URL, "/healthz", "anything.example", "", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("--allowed-host '*': %d %q, want the handler's own 503", code, msg)
	}
}

// TestCrossOriginPostIsRefused: a foreign page can make a browser POST to
// the server by its real address; Origin and Sec-Fetch-Site give it away.
func TestCrossOriginPostIsRefused(t *testing.T) {
	rec := &fakeRecording{}
	_, _, ts := newTestServer(t, WithRecording(rec))
	u, _ := url.Parse(ts.URL)
	port := u.Port()
	for _, origin := range []string{"http://evil.example", "null", "http://127.0.0.1:1", "https://" + u.Host, "http://localhost:" + port, "file://"} {
		code, msg := send(t, "POST", ts.URL, "/api/record", "", origin, `{"action":"start"}`)
		if code != http.StatusForbidden || !strings.Contains(msg, "cross-origin") {
			t.Errorf("Origin %s: %d %q, want 403 cross-origin", origin, code, msg)
		}
	}
	req, _ := http.NewRequest("POST", ts.URL+"/api/record", strings.NewReader(`{"action":"start"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Sec-Fetch-Site cross-site: %d, want 403", resp.StatusCode)
	}
	if rec.starts != 0 {
		t.Fatalf("refused POSTs started %d recordings", rec.starts)
	}
	// The page's own origin, and a client that sends no Origin (curl).
	if code, msg := send(t, "POST", ts.URL, "/api/record", "", ts.URL, `{"action":"start"}`); code != http.StatusOK {
		t.Fatalf("same-origin POST: %d %q", code, msg)
	}
	if code, msg := send(t, "POST", ts.URL, "/api/record", "", "", `{"action":"stop"}`); code != http.StatusOK {
		t.Fatalf("POST without Origin: %d %q", code, msg)
	}
	// GETs carry Origin on cross-origin fetches too; they change nothing and
	// a browser keeps their answer from the foreign page (no CORS headers).
	if code, _ := send(t, "GET", ts.URL, "/api/record", "", "http://evil.example", ""); code != http.StatusOK {
		t.Fatalf("GET with a foreign Origin: %d, want 200", code)
	}
}

func TestHostPolicyByListenAddress(t *testing.T) {
	ifaces := func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("192.168.1.7"), Mask: net.CIDRMask(24, 32)},
			&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)},
		}, nil
	}
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080} }
	for _, c := range []struct {
		name    string
		listen  net.Addr
		extra   []string
		allow   []string
		refuse  []string
		allowed string
	}{
		{"loopback", tcp("127.0.0.1"), nil,
			[]string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost"},
			[]string{"evil.example:8080", "192.168.1.7:8080", "", ":8080", "localhost.evil.example"}, "localhost, loopback addresses"},
		{"ipv6 loopback", tcp("::1"), nil,
			[]string{"[::1]:8080", "localhost:8080"}, []string{"evil.example"}, "localhost, loopback addresses"},
		{"all interfaces", tcp("0.0.0.0"), []string{"cam.lan"},
			[]string{"127.0.0.1:8080", "localhost", "192.168.1.7:8080", "[fe80::1]:8080", "cam.lan:8080"},
			[]string{"10.0.0.9:8080", "evil.example", "192.168.1.8"}, "cam.lan, localhost, loopback addresses, this machine's addresses"},
		{"all interfaces v6", tcp("::"), nil,
			[]string{"192.168.1.7"}, []string{"evil.example"}, ""},
		{"one address", tcp("192.168.1.7"), nil,
			[]string{"192.168.1.7:8080"}, []string{"localhost:8080", "127.0.0.1:8080", "evil.example"}, "192.168.1.7"},
		{"Handler", nil, nil,
			[]string{"127.0.0.1:1234", "localhost"}, []string{"192.168.1.7", "evil.example"}, "localhost, loopback addresses"},
		{"any", tcp("127.0.0.1"), []string{"*"}, []string{"evil.example"}, nil, ""},
	} {
		p := newHostPolicy(c.listen, c.extra)
		p.ifaceAddrs = ifaces
		for _, h := range c.allow {
			if !p.allows(h) {
				t.Errorf("%s: Host %q refused", c.name, h)
			}
		}
		for _, h := range c.refuse {
			if p.allows(h) {
				t.Errorf("%s: Host %q allowed", c.name, h)
			}
		}
		if c.allowed != "" && p.describe() != c.allowed {
			t.Errorf("%s: describe() = %q, want %q", c.name, p.describe(), c.allowed)
		}
	}
}

func TestWithAllowedHostsRejectsBadNames(t *testing.T) {
	hub := newTestHub(t)
	for _, n := range []string{"", "http://cam.lan", "cam.lan:8080", "[::1]:80", "cam.lan/x", "a b", "user@cam.lan", "cam.lan:"} {
		_, err := NewServer(hub, WithAllowedHosts(n))
		if err == nil || !strings.Contains(err.Error(), "without scheme, port or path") {
			t.Errorf("WithAllowedHosts(%q): %v, want an error naming the form", n, err)
		}
	}
	for _, n := range []string{"cam.lan", "::1", "[::1]", "192.168.1.7", "*"} {
		if _, err := NewServer(hub, WithAllowedHosts(n)); err != nil {
			t.Errorf("WithAllowedHosts(%q): %v", n, err)
		}
	}
}

// TestServeChecksHostByItsListener: Serve derives the allowed names from
// the listener it is given, here every interface.
func TestServeChecksHostByItsListener(t *testing.T) {
	hub := newTestHub(t)
	s, err := NewServer(hub)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on all interfaces here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() {
		hub.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	base := "http://127.0.0.1:" + itoa(uint64(port))
	publish(t, hub, "rock", 1)
	if code, msg := send(t, "GET", base, "/api/prediction", "", "", ""); code != http.StatusOK {
		t.Fatalf("loopback on an all-interfaces listener: %d %q", code, msg)
	}
	if code, _ := send(t, "GET", base, "/api/prediction", "evil.example", "", ""); code != http.StatusForbidden {
		t.Fatalf("evil.example on an all-interfaces listener: %d, want 403", code)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			host := net.JoinHostPort(n.IP.String(), itoa(uint64(port)))
			if code, msg := send(t, "GET", base, "/api/prediction", host, "", ""); code != http.StatusOK {
				t.Errorf("this machine's address %s: %d %q, want 200", host, code, msg)
			}
		}
	}
}
