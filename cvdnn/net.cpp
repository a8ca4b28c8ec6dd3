#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "net.h"

static char* copy_message(const char* what) {
    size_t n = std::strlen(what);
    char* p = static_cast<char*>(std::malloc(n + 1));
    if (p != NULL) {
        std::memcpy(p, what, n + 1);
    }
    return p;
}

RpsNet rps_net_read_onnx(const char* data, size_t len, char** err) {
    try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(data, len);
        if (net.empty()) {
            *err = copy_message("OpenCV read an empty network");
            return NULL;
        }
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return new cv::dnn::Net(net);
    } catch (const std::exception& e) {
        *err = copy_message(e.what());
    } catch (...) {
        *err = copy_message("unknown exception reading the network");
    }
    return NULL;
}

int rps_net_forward(RpsNet handle, const char* input, const float* blob, int c, int h, int w,
                    const char* output, float* out, int out_len, int* got, char** err) {
    try {
        cv::dnn::Net* net = static_cast<cv::dnn::Net*>(handle);
        int sizes[4] = {1, c, h, w};
        // setInput copies the blob, so OpenCV keeps no pointer to Go memory.
        net->setInput(cv::Mat(4, sizes, CV_32F, const_cast<float*>(blob)), input);
        cv::Mat res = net->forward(output);
        if (res.type() != CV_32F) {
            *err = copy_message("the output is not float32");
            return -1;
        }
        if (!res.isContinuous()) {
            res = res.clone();
        }
        *got = static_cast<int>(res.total());
        if (*got > out_len) {
            *err = copy_message("the output is larger than the labels say");
            return -1;
        }
        std::memcpy(out, res.ptr<float>(), res.total() * sizeof(float));
        return 0;
    } catch (const std::exception& e) {
        *err = copy_message(e.what());
    } catch (...) {
        *err = copy_message("unknown exception in forward");
    }
    return -1;
}

void rps_net_close(RpsNet net) { delete static_cast<cv::dnn::Net*>(net); }

void rps_set_num_threads(int n) { cv::setNumThreads(n); }

int rps_get_num_threads(void) { return cv::getNumThreads(); }
