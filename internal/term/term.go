// Package term tells whether output goes to a terminal.
package term

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a character device such as a terminal,
// where progress lines may be rewritten in place.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
