#include "cvshim_text.h"
#include "cvshim_guard.hpp"
#include <opencv2/imgproc.hpp>

extern "C" int cvshim_put_text(uint8_t *rgb, int width, int height, const char *text, int x, int y, double scale,
                               uint8_t red, uint8_t green, uint8_t blue, char *err, size_t errlen) {
    if (!rgb || !text || width <= 0 || height <= 0 || !(scale > 0))
        return cvshim::fail(CVSHIM_ERR_ARGUMENT, "put_text: null buffer, empty image or scale <= 0", err, errlen);
    return cvshim::guard(err, errlen, [&] {
        cv::Mat image(height, width, CV_8UC3, rgb);
        cv::putText(image, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(red, green, blue),
                    1, cv::LINE_AA);
        return 0;
    });
}

extern "C" int cvshim_text_size(const char *text, double scale, int *width, int *height, char *err, size_t errlen) {
    if (!text || !width || !height || !(scale > 0))
        return cvshim::fail(CVSHIM_ERR_ARGUMENT, "text_size: null argument or scale <= 0", err, errlen);
    return cvshim::guard(err, errlen, [&] {
        int baseline = 0;
        cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
        *width = size.width;
        *height = size.height;
        return 0;
    });
}
