#ifndef CVSHIM_WARP_H
#define CVSHIM_WARP_H
/* Image warps for the demo corpus. Error convention and image layout as in cvshim.h: 0 on
   success, a negative CVSHIM_ERR_* code on failure with the message copied into `err`. */
#include "cvshim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backward warp (cv::remap, bilinear): dst[y][x] = src at (map_x[y][x], map_y[y][x]), both
   maps float32 [dst_height, dst_width] in source pixel coordinates. Source pixels outside the
   image mirror the border (cv::BORDER_REFLECT_101). src RGB [src_height, src_width, 3],
   dst RGB [dst_height, dst_width, 3]. */
int cvshim_remap_rgb(const uint8_t *src, int src_width, int src_height,
                     const float *map_x, const float *map_y,
                     uint8_t *dst, int dst_width, int dst_height, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
