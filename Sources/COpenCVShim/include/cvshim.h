#ifndef CVSHIM_H
#define CVSHIM_H
/* A plain C API over the few OpenCV calls cals needs (C++ inside, plain C here).

   Error convention, shared by every cvshim_* function (also in the other headers of this
   target): a return value >= 0 is success (a count where documented, else 0); a negative value
   is a failure, and then a NUL-terminated message (OpenCV's own for a cv::Exception) has been
   copied into `err`, truncated to `errlen` bytes. Codes:
     CVSHIM_ERR_OPENCV   a cv::Exception was thrown (bad data, unreadable cascade, ...)
     CVSHIM_ERR_ARGUMENT the arguments were rejected before OpenCV was called
     CVSHIM_ERR_OTHER    any other C++ exception (std::bad_alloc, ...)
   No function aborts or lets a C++ exception escape. See cvshim_guard.hpp for the helper the
   .cpp files use to keep this promise.

   Images are tightly packed 8-bit buffers, rows top to bottom: RGB = 3 bytes per pixel in
   R G B order, grey = 1 byte per pixel. Sizes are `width x height` in pixels. */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CVSHIM_ERR_OPENCV = -1,
    CVSHIM_ERR_ARGUMENT = -2,
    CVSHIM_ERR_OTHER = -3,
};

/* An axis-aligned rectangle in pixels. */
typedef struct {
    int32_t x, y, width, height;
} cvshim_rect;

/* The OpenCV version string, for diagnostics. */
const char *cvshim_version(void);

/* A Haar cascade classifier (opaque). */
typedef struct cvshim_cascade cvshim_cascade;

/* Loads a cascade XML file into *out; free it with cvshim_cascade_free. */
int cvshim_cascade_load(const char *path, cvshim_cascade **out, char *err, size_t errlen);
void cvshim_cascade_free(cvshim_cascade *cascade);

/* Detects objects on a grey image (cv::CascadeClassifier::detectMultiScale) whose rows start
   `stride` bytes apart (stride >= width; pass a pointer into a larger image to search a region
   of it). Objects are searched from min_size to max_size pixels (max_size 0: no upper bound).
   Writes at most `capacity` rectangles (pixels of the searched image) to `rects`; returns how
   many were found (may exceed `capacity`: call again with a larger buffer to get them all). */
int cvshim_cascade_detect(cvshim_cascade *cascade, const uint8_t *grey, int width, int height,
                          int stride, double scale_factor, int min_neighbors, int min_size,
                          int max_size, cvshim_rect *rects, int capacity, char *err, size_t errlen);

/* RGB [height, width, 3] -> grey [out_height, out_width] (BT.601 luma, then area resampling
   when the size changes). */
int cvshim_rgb_to_grey(const uint8_t *rgb, int width, int height,
                       uint8_t *grey, int out_width, int out_height, char *err, size_t errlen);

/* RGB -> RGB resize with area resampling (cv::INTER_AREA). */
int cvshim_resize_rgb(const uint8_t *rgb, int width, int height,
                      uint8_t *out, int out_width, int out_height, char *err, size_t errlen);

/* Cuts the square [x, x+size) x [y, y+size) out of an RGB image and resizes it to
   out_size x out_size with area resampling. The square may reach past the image edges (or lie
   wholly outside it): missing pixels repeat the nearest edge pixel (cv::BORDER_REPLICATE), so
   a face near the frame edge gets no black bars for a model to learn. */
int cvshim_crop_square(const uint8_t *rgb, int width, int height, int x, int y, int size,
                       uint8_t *out, int out_size, char *err, size_t errlen);

/* Reads an image file (PNG, JPEG, ... whatever cv::imread reads) as RGB. On success *rgb holds
   width*height*3 bytes allocated with malloc: release them with cvshim_buffer_free. */
int cvshim_image_read(const char *path, uint8_t **rgb, int *width, int *height,
                      char *err, size_t errlen);
void cvshim_buffer_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif
