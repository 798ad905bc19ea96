// The shim's whole C API. Named after the target, so SwiftPM uses it as the module's umbrella
// header: a header added to the list below changes this file and rebuilds the cached Clang module
// (an umbrella directory does not notice a new file, and a stale cache misses its functions).
#include "cvshim.h"
#include "cvshim_text.h"
#include "cvshim_warp.h"
