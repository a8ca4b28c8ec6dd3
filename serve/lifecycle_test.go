package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestServeWhileOutlivesTheSource: when the source ends the hub closes and
// the server keeps serving until ctx ends; with exitAtEnd it returns at once.
func TestServeWhileOutlivesTheSource(t *testing.T) {
	for _, exitAtEnd := range []bool{false, true} {
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
