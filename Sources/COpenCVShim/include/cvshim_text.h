/* Text for the plots the tools write: OpenCV's Hershey simplex font (built into OpenCV, so no
   font file is needed). Same error convention as cvshim.h. */
#ifndef CVSHIM_TEXT_H
#define CVSHIM_TEXT_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Draws ASCII `text` anti-aliased into an RGB image in place; (x, y) is the left end of the
   text's baseline; `scale` 1 is about 22 pixels tall. Parts outside the image are clipped. */
int cvshim_put_text(uint8_t *rgb, int width, int height, const char *text, int x, int y, double scale,
                    uint8_t red, uint8_t green, uint8_t blue, char *err, size_t errlen);

/* The width and the height above the baseline, in pixels, of `text` at `scale`. */
int cvshim_text_size(const char *text, double scale, int *width, int *height, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
