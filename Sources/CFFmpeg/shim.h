#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersrc.h>
#include <libavfilter/buffersink.h>
#include <libswresample/swresample.h>

// Function-like and cast macros that Swift cannot import, as inline functions.
static inline int cals_averror_eof(void) { return AVERROR_EOF; }
static inline int cals_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int cals_averror_exit(void) { return AVERROR_EXIT; }
static inline int64_t cals_nopts_value(void) { return AV_NOPTS_VALUE; }
