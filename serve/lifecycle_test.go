package serve

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// listeningServer is a server on its hub and a listener on a free port.
func listeningServer(t *testing.T) (*Hub, *Server, net.Listener) {
	t.Helper()
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(hub)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return hub, srv, ln
}

// TestServeWhileOutlivesTheSource: when the source ends the hub closes and
// the server keeps serving until ctx ends; with exitAtEnd it returns at once.
func TestServeWhileOutlivesTheSource(t *testing.T) {
	for _, exitAtEnd := range []bool{false, true} {
		hub, srv, ln := listeningServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		told := false
		done := make(chan error, 1)
		go func() {
			done <- srv.ServeWhile(ctx, ln, exitAtEnd, func(context.Context) (bool, error) { return true, nil }, func() { told = true })
		}()
		if !exitAtEnd {
			select {
			case err := <-done:
				t.Fatalf("returned %v while ctx was live", err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("exitAtEnd %v: %v", exitAtEnd, err)
		}
		if told == exitAtEnd {
			t.Errorf("exitAtEnd %v: sourceEnded called %v", exitAtEnd, told)
		}
		if _, err := hub.Next(context.Background(), 0); !errors.Is(err, ErrHubClosed) {
			t.Errorf("exitAtEnd %v: the hub is open after the source ended (%v)", exitAtEnd, err)
		}
	}
}

func TestListenBusyPort(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(ln.Addr().String())
	var ae *AddrError
	if !errors.As(err, &ae) {
		t.Fatalf("second Listen on %s: %v, want an *AddrError", ln.Addr(), err)
	}
}

// TestServeWhileEndsWhenTheServerFails: after the source has ended the
// server is all that runs; if it fails, ServeWhile returns its error rather
// than waiting for a Ctrl-C with nothing served.
func TestServeWhileEndsWhenTheServerFails(t *testing.T) {
	_, srv, ln := listeningServer(t)
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeWhile(context.Background(), ln, false, func(context.Context) (bool, error) { return true, nil }, func() { ln.Close() })
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ServeWhile returned nil after its listener failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeWhile still waits after its server failed")
	}
}

// TestServeFailureFinalizesTheRecording: a listener that fails ends Serve
// with its error, and a running recording is still stopped and finalized.
func TestServeFailureFinalizesTheRecording(t *testing.T) {
	rec := &fakeRecording{}
	s, err := NewServer(newTestHub(t), WithRecording(rec))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	if code, _, _ := postRecord(t, "http://"+ln.Addr().String(), "application/json", `{"action":"start"}`); code != 200 {
		t.Fatalf("start recording: %d", code)
	}
	ln.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve returned nil after its listener failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
	if rec.stops != 1 || rec.Active() {
		t.Fatalf("recording stops %d, active %v: a failing server must finalize it", rec.stops, rec.Active())
	}
}
