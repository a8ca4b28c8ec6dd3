package cvdnn

// #cgo pkg-config: opencv4
// #cgo CXXFLAGS: -std=c++11
// #include <stdlib.h>
// #include "net.h"
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// net is one cv::dnn::Net on the CPU (OpenCV's own backend). It is not safe
// for concurrent use.
type net struct{ handle C.RpsNet }

// readONNX parses an ONNX graph with OpenCV's importer; its exceptions come
// back as errors instead of aborting the process, as gocv.ReadNetFromONNX's do.
func readONNX(model []byte) (*net, error) {
	if len(model) == 0 {
		return nil, errors.New("empty model")
	}
	var msg *C.char
	h := C.rps_net_read_onnx((*C.char)(unsafe.Pointer(&model[0])), C.size_t(len(model)), &msg)
	if h == nil {
		return nil, cError(msg)
	}
	return &net{handle: h}, nil
}

// forward runs the net on one float32 NCHW image (blob holds c*h*w values)
// and copies output into out, returning how many values it holds.
func (n *net) forward(input string, blob []float32, c, h, w int, output string, out []float32) (int, error) {
	cin, cout := C.CString(input), C.CString(output)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	var got C.int
	var msg *C.char
	rc := C.rps_net_forward(n.handle, cin, (*C.float)(unsafe.Pointer(&blob[0])), C.int(c), C.int(h), C.int(w),
		cout, (*C.float)(unsafe.Pointer(&out[0])), C.int(len(out)), &got, &msg)
	if rc != 0 {
		return 0, cError(msg)
	}
	return int(got), nil
}

func (n *net) close() {
	if n.handle != nil {
		C.rps_net_close(n.handle)
		n.handle = nil
	}
}

func cError(msg *C.char) error {
	if msg == nil {
		return errors.New("OpenCV failed without a message")
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(strings.TrimSpace(C.GoString(msg)))
}

// SetThreads sets OpenCV's thread count for the whole process (cv::setNumThreads:
// DNN layers, resizing, colour conversion); 0 runs everything on the calling
// thread. A negative n restores OpenCV's default.
func SetThreads(n int) { C.rps_set_num_threads(C.int(n)) }

// Threads is OpenCV's thread count for the process (cv::getNumThreads).
func Threads() int { return int(C.rps_get_num_threads()) }
