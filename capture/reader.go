package capture

import (
	"time"

	"gocv.io/x/gocv"
)

// Reader produces the frames of a Source made by FromReader.
type Reader interface {
	// Next writes the next frame into dst, a pooled Mat that may be empty or
	// of another size, or returns io.EOF after the last frame.
	Next(dst *gocv.Mat) error
}

// FromReader returns a Source of r's frames that reports info. With
// info.Live a goroutine reads r every 1/info.FPS seconds and keeps only the
// newest frame, like a camera; otherwise Read returns every frame in order,
// like a file. If r's first frame fails, Read returns that error.
func FromReader(r Reader, info Info) Source {
	fr := userReader{r}
	pool := &matPool{}
	first := pool.get()
	if err := fr.next(nil, &first); err != nil {
		_ = first.Close()
		return &syncSource{reader: fr, pool: pool, info: info, done: err}
	}
	if !info.Live {
		return newSyncSource(fr, pool, info, first, time.Now())
	}
	var pace time.Duration
	if info.FPS > 0 {
		pace = time.Duration(float64(time.Second) / info.FPS)
	}
	return newLiveSource(fr, pool, info, first, time.Now(), pace, defaultConfig())
}

// userReader adapts a Reader to the sources' frameReader.
type userReader struct{ r Reader }

func (u userReader) next(_ <-chan struct{}, dst *gocv.Mat) error { return u.r.Next(dst) }
func (u userReader) close()                                      {}
