#include "cvshim_warp.h"
#include "cvshim_guard.hpp"
#include <opencv2/imgproc.hpp>

extern "C" int cvshim_remap_rgb(const uint8_t *src, int src_width, int src_height,
                                const float *map_x, const float *map_y,
                                uint8_t *dst, int dst_width, int dst_height, char *err, size_t errlen) {
    if (!src || !map_x || !map_y || !dst || src_width <= 0 || src_height <= 0 || dst_width <= 0 || dst_height <= 0)
        return cvshim::fail(CVSHIM_ERR_ARGUMENT, "remap: null buffer or empty size", err, errlen);
    return cvshim::guard(err, errlen, [&] {
        cv::Mat source(src_height, src_width, CV_8UC3, const_cast<uint8_t *>(src));
        cv::Mat mx(dst_height, dst_width, CV_32FC1, const_cast<float *>(map_x));
        cv::Mat my(dst_height, dst_width, CV_32FC1, const_cast<float *>(map_y));
        cv::Mat out(dst_height, dst_width, CV_8UC3, dst);
        cv::remap(source, out, mx, my, cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
        return 0;
    });
}
