// Package tmpfstest makes a small, full-able file system for tests of what
// happens when the disk fills.
package tmpfstest

import (
	"os/exec"
	"strings"
	"testing"
)

// Mount mounts a tmpfs of size (e.g. "6m") with extra options on a fresh
// folder and unmounts it when the test ends, or skips t: mounting needs
// root, which tests have here and in CI but not on a developer's laptop.
func Mount(t testing.TB, size string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	opts := strings.Join(append([]string{"size=" + size}, extra...), ",")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to simulate a full disk (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}
