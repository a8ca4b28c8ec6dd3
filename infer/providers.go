package infer

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// onnxruntime_go v1.27.0 does not wrap OrtApi::GetAvailableProviders, so this
// shim reaches it directly. Rather than vendor the 8,000-line
// onnxruntime_c_api.h (MIT, Microsoft), it copies the few facts it needs:
//
//   - OrtGetApiBase() returns a struct whose first member is
//     const OrtApi* (*GetApi)(uint32_t version).
//   - OrtApi is a struct made only of function pointers, and ONNX Runtime
//     only ever appends to it (its ABI promise), so a member's index never
//     changes. The indices below were computed with
//     offsetof(OrtApi, member)/sizeof(void*) against the header shipped with
//     onnxruntime_go v1.27.0 (ORT_API_VERSION 24).
//   - OrtStatus* is opaque; NULL means success.
enum {
	rpscam_api_version = 24,
	rpscam_idx_GetErrorMessage = 2,
	rpscam_idx_ReleaseStatus = 93,
	rpscam_idx_GetAvailableProviders = 125,
	rpscam_idx_ReleaseAvailableProviders = 126,
};

typedef struct { const void* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); } rpscam_api_base;
typedef const rpscam_api_base* (*rpscam_get_api_base_fn)(void);
typedef void* (*rpscam_get_providers_fn)(char*** out, int* n);
typedef void* (*rpscam_release_providers_fn)(char** ptr, int n);
typedef const char* (*rpscam_error_message_fn)(const void* status);
typedef void (*rpscam_release_status_fn)(void* status);

// rpscam_available_providers fills *out/*n and returns NULL, or returns a
// malloc'd error message the caller frees. On success *handle must be passed
// to rpscam_release_providers.
static char* rpscam_available_providers(const char* lib, void** handle, char*** out, int* n) {
	void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char* e = dlerror();
		return strdup(e ? e : "dlopen failed");
	}
	rpscam_get_api_base_fn base_fn = (rpscam_get_api_base_fn)dlsym(h, "OrtGetApiBase");
	if (!base_fn) {
		dlclose(h);
		return strdup("no OrtGetApiBase symbol: not an ONNX Runtime library");
	}
	const void* const* api = (const void* const*)base_fn()->GetApi(rpscam_api_version);
	if (!api) {
		dlclose(h);
		return strdup("library does not provide ONNX Runtime API version 24 (ONNX Runtime 1.24 or newer)");
	}
	void* st = ((rpscam_get_providers_fn)api[rpscam_idx_GetAvailableProviders])(out, n);
	if (st) {
		char* msg = strdup(((rpscam_error_message_fn)api[rpscam_idx_GetErrorMessage])(st));
		((rpscam_release_status_fn)api[rpscam_idx_ReleaseStatus])(st);
		dlclose(h);
		return msg;
	}
	*handle = h;
	return NULL;
}

static void rpscam_release_providers(void* h, char** list, int n) {
	const void* const* api = (const void* const*)((rpscam_get_api_base_fn)dlsym(h, "OrtGetApiBase"))()->GetApi(rpscam_api_version);
	void* st = ((rpscam_release_providers_fn)api[rpscam_idx_ReleaseAvailableProviders])(list, n);
	if (st) {
		((rpscam_release_status_fn)api[rpscam_idx_ReleaseStatus])(st);
	}
	dlclose(h);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/rpscam/rpscam/internal/ort"
)

// AvailableProviders lists the execution providers the ONNX Runtime library at
// libPath was built with ("" finds it as WithLibrary does), e.g.
// ["CUDAExecutionProvider", "CPUExecutionProvider"]. Listed does not mean
// usable: the CUDA provider is listed by GPU builds even on machines without
// the CUDA libraries or a GPU; only creating a session tells.
func AvailableProviders(libPath string) ([]string, error) {
	lib, err := ort.FindLibrary(libPath)
	if err != nil {
		return nil, err
	}
	cLib := C.CString(lib)
	defer C.free(unsafe.Pointer(cLib))
	var handle unsafe.Pointer
	var list **C.char
	var n C.int
	if msg := C.rpscam_available_providers(cLib, &handle, &list, &n); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return nil, fmt.Errorf("%w: listing execution providers of %s: %s", ort.ErrLibrary, lib, C.GoString(msg))
	}
	defer C.rpscam_release_providers(handle, list, n)
	names := make([]string, 0, int(n))
	for _, p := range unsafe.Slice(list, int(n)) {
		names = append(names, C.GoString(p))
	}
	return names, nil
}
