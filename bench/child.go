package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runChild measures row j in a child process, so that its peak RSS and
// OpenCV's process-wide thread count are its own: it writes the job into
// dir and runs command with the job file's path appended (rpscam bench
// --compare-job FILE, which calls MeasureJobFile), reading the rowResult
// the child writes on stdout.
func runChild(ctx context.Context, dir string, j rowJob, command ...string) (rowResult, error) {
	var res rowResult
	data, err := json.Marshal(j)
	if err != nil {
		return res, err
	}
	jobFile := filepath.Join(dir, fmt.Sprintf("job-%s-%s-%s.json", j.Row.Backend, j.Row.Precision, j.Row.Device))
	if err := os.WriteFile(jobFile, data, 0o600); err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, command[0], append(command[1:], jobFile)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("the row's process failed (%v): %s", err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("the row's process wrote no result (%v): %s", err, lastLine(stderr.String()))
	}
	return res, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// MeasureJobFile measures the row the job file (written by runChild)
// describes and writes the rowResult as JSON to w; the row's own failure is
// in its Error. setup (may be nil) says whether a failure is the caller's to
// fix (the clip, the model, the library), which the parent reports in a
// NoRowRanError: only this process has the error value to judge.
func MeasureJobFile(ctx context.Context, w io.Writer, jobFile string, setup func(error) bool) error {
	data, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	var j rowJob
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("--compare-job %s: %w", jobFile, err)
	}
	if j.Row.Backend == "" {
		return errors.New("--compare-job: the job names no backend")
	}
	return json.NewEncoder(w).Encode(measureRow(ctx, j, setup))
}
