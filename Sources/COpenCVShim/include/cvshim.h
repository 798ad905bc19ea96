#ifndef CVSHIM_H
#define CVSHIM_H
/* A plain C API over the few OpenCV calls cals needs. Every function returns 0 on success or
   a negative code, and writes OpenCV's message into `err` (size `errlen`) on failure. */
#ifdef __cplusplus
extern "C" {
#endif

/* The OpenCV version string, for diagnostics. */
const char *cvshim_version(void);

#ifdef __cplusplus
}
#endif
#endif
