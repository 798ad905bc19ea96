#include "cvshim.h"
#include <opencv2/core.hpp>

extern "C" const char *cvshim_version(void) { return CV_VERSION; }
