// Package procstat measures this process's CPU use and memory, and describes
// the machine, for benchmark reports.
//
// CPU time comes from getrusage(RUSAGE_SELF), which counts every thread —
// ONNX Runtime's intra-op pool and OpenCV's decoder threads included — so
// CPU percent can exceed 100 on a multi-core machine (200 = two cores busy).
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sample is a point-in-time reading of the process's CPU time.
type Sample struct {
	Wall time.Time
	User time.Duration
	Sys  time.Duration
}

// CPU is user plus system time.
func (s Sample) CPU() time.Duration { return s.User + s.Sys }

// Now reads the process's CPU time.
func Now() (Sample, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Sample{}, fmt.Errorf("getrusage: %w", err)
	}
	return Sample{
		Wall: time.Now(),
		User: time.Duration(ru.Utime.Nano()),
		Sys:  time.Duration(ru.Stime.Nano()),
	}, nil
}

// CPUPercent is the CPU time used between two samples as a percentage of the
// wall time between them: 100 means one core fully busy.
func CPUPercent(from, to Sample) float64 {
	wall := to.Wall.Sub(from.Wall)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(to.CPU()-from.CPU()) / float64(wall)
}

// PeakRSS is the process's peak resident set size in bytes (the kernel's
// high-water mark, VmHWM), which includes memory allocated by C libraries
// (OpenCV Mats, ONNX Runtime arenas) that Go's runtime statistics miss.
func PeakRSS() (int64, error) { return statusBytes("VmHWM:") }

// RSS is the process's current resident set size in bytes (VmRSS).
func RSS() (int64, error) { return statusBytes("VmRSS:") }

func statusBytes(key string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		// Not Linux, or /proc not mounted: fall back to getrusage's peak,
		// whose unit is kilobytes on Linux and bytes on Darwin.
		var ru syscall.Rusage
		if rerr := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); rerr != nil {
			return 0, fmt.Errorf("reading memory use: %v; getrusage: %w", err, rerr)
		}
		if runtime.GOOS == "darwin" {
			return int64(ru.Maxrss), nil
		}
		return int64(ru.Maxrss) * 1024, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, key))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc/self/status: unexpected %q line %q", key, line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status: %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("/proc/self/status: %w", err)
	}
	return 0, fmt.Errorf("/proc/self/status has no %q line", key)
}

// Machine describes the computer a benchmark ran on.
type Machine struct {
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUModel string `json:"cpu_model"`
	// LogicalCPUs is what this process may use (runtime.NumCPU honours the
	// affinity mask, so a container limited to 2 cores reports 2).
	LogicalCPUs int    `json:"logical_cpus"`
	MemTotalMB  int64  `json:"mem_total_mb,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
}

// DescribeMachine gathers what it can; fields it cannot read stay empty.
func DescribeMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, LogicalCPUs: runtime.NumCPU()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				fs := strings.Fields(rest)
				if len(fs) == 2 {
					if kb, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
						m.MemTotalMB = kb / 1024
					}
				}
				break
			}
		}
		f.Close()
	}
	return m
}
