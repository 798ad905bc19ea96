// The error convention of cvshim.h, for every .cpp of this target: run the body, turn any C++
// exception into a negative code plus a message copied into the caller's buffer.
#pragma once
#include "cvshim.h"
#include <opencv2/core.hpp>
#include <cstring>
#include <exception>
#include <string>

namespace cvshim {

// Copies `message` into err[0 ..< errlen], truncated and NUL-terminated; returns `code`.
inline int fail(int code, const std::string &message, char *err, size_t errlen) {
    if (err && errlen > 0) {
        size_t n = std::min(message.size(), errlen - 1);
        std::memcpy(err, message.data(), n);
        err[n] = '\0';
    }
    return code;
}

// Runs `body` (which returns the success value, >= 0) and maps exceptions to error codes.
// cv::Exception keeps OpenCV's own message (`e.msg`, without the file/line decoration).
template <typename Body>
int guard(char *err, size_t errlen, Body body) {
    try {
        return body();
    } catch (const cv::Exception &e) {
        return fail(CVSHIM_ERR_OPENCV, e.err.empty() ? e.what() : e.err, err, errlen);
    } catch (const std::exception &e) {
        return fail(CVSHIM_ERR_OTHER, e.what(), err, errlen);
    } catch (...) {
        return fail(CVSHIM_ERR_OTHER, "unknown C++ exception", err, errlen);
    }
}

}  // namespace cvshim
