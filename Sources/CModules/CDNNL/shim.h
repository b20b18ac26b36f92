// oneDNN's C API (Debian's libdnnl-dev, 2.6). Only PetalCore's bridge imports this.
#include <oneapi/dnnl/dnnl.h>
