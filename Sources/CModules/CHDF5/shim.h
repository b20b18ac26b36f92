// Debian installs the serial libhdf5 under /usr/include/hdf5/serial.
#include "/usr/include/hdf5/serial/hdf5.h"

// libhdf5's predefined type ids are mutable C globals set when the library opens; Swift 6
// rejects reading them directly, so these functions read them (after H5open, as the macros do).
static inline hid_t petal_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t petal_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
