package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// AddrError is a listen address that cannot be used (busy or malformed):
// the caller's to fix.
type AddrError struct{ Err error }

func (e *AddrError) Error() string { return e.Err.Error() }
func (e *AddrError) Unwrap() error { return e.Err }

// Listen listens on addr (host:port) before anything slow is loaded, so
// that a busy port fails in a moment. Errors are an *AddrError.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &AddrError{fmt.Errorf("--addr %s is already in use: stop the other server or pass another port, e.g. --addr 127.0.0.1:8081", addr)}
	}
	if err != nil {
		return nil, &AddrError{fmt.Errorf("--addr %s: %v (give host:port, e.g. 127.0.0.1:8080)", addr, err)}
	}
	return ln, nil
}

// ServeWhile serves on ln while run feeds the server's hub. The server
// outlives the pipeline: when run ends with the source (ended, no error)
// the hub closes, so viewers' streams end while snapshots and predictions
// keep the last frame, and unless exitAtEnd the server goes on until ctx
// ends (sourceEnded, when set, is told first). A failing server cancels
// run's context.
func (s *Server) ServeWhile(ctx context.Context, ln net.Listener, exitAtEnd bool, run func(context.Context) (ended bool, err error), sourceEnded func()) error {
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	served := make(chan error, 1)
	go func() {
		err := s.Serve(serveCtx, ln)
		stopRun()
		served <- err
	}()
	ended, runErr := run(runCtx)
	if runErr == nil && ended {
		s.hub.Close()
		if !exitAtEnd {
			if sourceEnded != nil {
				sourceEnded()
			}
			// Until ctx ends, or the server fails: then nothing is served
			// any more and waiting on would leave a process doing nothing.
			select {
			case <-serveCtx.Done():
			case err := <-served:
				return errors.Join(runErr, err)
			}
		}
	}
	stopServing()
	return errors.Join(runErr, <-served)
}
