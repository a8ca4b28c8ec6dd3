// C interface to OpenCV's DNN module for package cvdnn: every call catches
// OpenCV's C++ exceptions and returns them as a malloc'd message.
#ifndef RPSCAM_CVDNN_NET_H
#define RPSCAM_CVDNN_NET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void* RpsNet;

RpsNet rps_net_read_onnx(const char* data, size_t len, char** err);
int rps_net_forward(RpsNet net, const char* input, const float* blob, int c, int h, int w,
                    const char* output, float* out, int out_len, int* got, char** err);
void rps_net_close(RpsNet net);
void rps_set_num_threads(int n);
int rps_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif
