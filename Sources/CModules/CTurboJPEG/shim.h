#include <turbojpeg.h>
// libjpeg-turbo's version macros (jconfig.h, from libjpeg62-turbo-dev, which libhdf5-dev pulls in):
// TurboJPEG 2.x has no function that reports its version.
#if __has_include(<jconfig.h>)
#include <jconfig.h>
#endif
#ifndef LIBJPEG_TURBO_VERSION_NUMBER
#define LIBJPEG_TURBO_VERSION_NUMBER 0
#endif
static inline int petal_libjpeg_turbo_version_number(void) { return LIBJPEG_TURBO_VERSION_NUMBER; }
