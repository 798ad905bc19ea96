// The detection, colour, resize, crop and image-reading calls of cvshim.h.
#include "cvshim.h"
#include "cvshim_guard.hpp"
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

using cvshim::fail;
using cvshim::guard;

struct cvshim_cascade {
    cv::CascadeClassifier classifier;
};

// A cv::Mat header over a caller's buffer (no copy). const_cast is safe: OpenCV only reads
// the sources we wrap this way.
static cv::Mat wrap(const uint8_t *data, int width, int height, int channels) {
    return cv::Mat(height, width, CV_8UC(channels), const_cast<uint8_t *>(data));
}

static bool valid_size(int width, int height) { return width > 0 && height > 0; }

extern "C" const char *cvshim_version(void) { return CV_VERSION; }

extern "C" int cvshim_cascade_load(const char *path, cvshim_cascade **out, char *err, size_t errlen) {
    return guard(err, errlen, [&] {
        *out = nullptr;
        auto cascade = std::make_unique<cvshim_cascade>();
        if (!cascade->classifier.load(path) || cascade->classifier.empty())
            return fail(CVSHIM_ERR_OPENCV, "not a cascade classifier OpenCV can load", err, errlen);
        *out = cascade.release();
        return 0;
    });
}

extern "C" void cvshim_cascade_free(cvshim_cascade *cascade) { delete cascade; }

extern "C" int cvshim_cascade_detect(cvshim_cascade *cascade, const uint8_t *grey, int width, int height,
                                     int stride, double scale_factor, int min_neighbors, int min_size,
                                     int max_size, cvshim_rect *rects, int capacity, char *err, size_t errlen) {
    if (!cascade || !grey || !valid_size(width, height) || stride < width || scale_factor <= 1.0 ||
        min_size < 0 || max_size < 0 || capacity < 0 || (capacity > 0 && !rects))
        return fail(CVSHIM_ERR_ARGUMENT, "cvshim_cascade_detect: bad arguments", err, errlen);
    return guard(err, errlen, [&] {
        cv::Mat image(height, width, CV_8UC1, const_cast<uint8_t *>(grey), size_t(stride));
        std::vector<cv::Rect> found;
        cascade->classifier.detectMultiScale(image, found, scale_factor, min_neighbors, 0,
                                             cv::Size(min_size, min_size), cv::Size(max_size, max_size));
        for (size_t i = 0; i < found.size() && i < size_t(capacity); i++)
            rects[i] = {found[i].x, found[i].y, found[i].width, found[i].height};
        return int(found.size());
    });
}

extern "C" int cvshim_rgb_to_grey(const uint8_t *rgb, int width, int height,
                                  uint8_t *grey, int out_width, int out_height, char *err, size_t errlen) {
    if (!rgb || !grey || !valid_size(width, height) || !valid_size(out_width, out_height))
        return fail(CVSHIM_ERR_ARGUMENT, "cvshim_rgb_to_grey: bad arguments", err, errlen);
    return guard(err, errlen, [&] {
        cv::Mat out = wrap(grey, out_width, out_height, 1);
        if (out_width == width && out_height == height) {
            cv::cvtColor(wrap(rgb, width, height, 3), out, cv::COLOR_RGB2GRAY);
        } else {
            // Luma first, at full size (one byte per pixel is cheaper to resample than three).
            cv::Mat full;
            cv::cvtColor(wrap(rgb, width, height, 3), full, cv::COLOR_RGB2GRAY);
            cv::resize(full, out, out.size(), 0, 0, cv::INTER_AREA);
        }
        return 0;
    });
}

extern "C" int cvshim_resize_rgb(const uint8_t *rgb, int width, int height,
                                 uint8_t *out, int out_width, int out_height, char *err, size_t errlen) {
    if (!rgb || !out || !valid_size(width, height) || !valid_size(out_width, out_height))
        return fail(CVSHIM_ERR_ARGUMENT, "cvshim_resize_rgb: bad arguments", err, errlen);
    return guard(err, errlen, [&] {
        cv::Mat dst = wrap(out, out_width, out_height, 3);
        cv::resize(wrap(rgb, width, height, 3), dst, dst.size(), 0, 0, cv::INTER_AREA);
        return 0;
    });
}

extern "C" int cvshim_crop_square(const uint8_t *rgb, int width, int height, int x, int y, int size,
                                  uint8_t *out, int out_size, char *err, size_t errlen) {
    if (!rgb || !out || !valid_size(width, height) || size <= 0 || out_size <= 0)
        return fail(CVSHIM_ERR_ARGUMENT, "cvshim_crop_square: bad arguments", err, errlen);
    return guard(err, errlen, [&] {
        cv::Mat src = wrap(rgb, width, height, 3);
        cv::Mat dst = wrap(out, out_size, out_size, 3);
        cv::Rect square(x, y, size, size);
        cv::Rect inside = square & cv::Rect(0, 0, width, height);
        if (inside == square) {
            cv::resize(src(square), dst, dst.size(), 0, 0, cv::INTER_AREA);
            return 0;
        }
        // Part (or all) of the square lies outside. Take the in-image strip nearest to it (at
        // least one pixel, clamped to the image), replicate its edges outwards far enough to
        // cover the square, then cut the square out of that padded strip.
        int x0 = std::clamp(x, 0, width - 1), y0 = std::clamp(y, 0, height - 1);
        int x1 = std::clamp(x + size, x0 + 1, width), y1 = std::clamp(y + size, y0 + 1, height);
        int left = std::max(0, x0 - x), top = std::max(0, y0 - y);
        int right = std::max(0, x + size - x1), bottom = std::max(0, y + size - y1);
        cv::Mat padded;
        cv::copyMakeBorder(src(cv::Rect(x0, y0, x1 - x0, y1 - y0)), padded,
                           top, bottom, left, right, cv::BORDER_REPLICATE);
        // padded(0, 0) is image pixel (x0 - left, y0 - top).
        cv::Rect within(x - (x0 - left), y - (y0 - top), size, size);
        cv::resize(padded(within), dst, dst.size(), 0, 0, cv::INTER_AREA);
        return 0;
    });
}

extern "C" int cvshim_image_read(const char *path, uint8_t **rgb, int *width, int *height,
                                 char *err, size_t errlen) {
    if (!path || !rgb || !width || !height)
        return fail(CVSHIM_ERR_ARGUMENT, "cvshim_image_read: bad arguments", err, errlen);
    *rgb = nullptr;
    return guard(err, errlen, [&] {
        cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
        if (bgr.empty()) return fail(CVSHIM_ERR_OPENCV, "not an image OpenCV can read", err, errlen);
        cv::Mat rgb_mat;
        cv::cvtColor(bgr, rgb_mat, cv::COLOR_BGR2RGB);  // continuous, rows * cols * 3 bytes
        size_t bytes = rgb_mat.total() * 3;
        auto buffer = static_cast<uint8_t *>(std::malloc(bytes));
        if (!buffer) return fail(CVSHIM_ERR_OTHER, "out of memory", err, errlen);
        std::memcpy(buffer, rgb_mat.data, bytes);
        *rgb = buffer;
        *width = rgb_mat.cols;
        *height = rgb_mat.rows;
        return 0;
    });
}

extern "C" void cvshim_buffer_free(void *buffer) { std::free(buffer); }
