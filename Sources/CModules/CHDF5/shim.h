// Debian installs the serial libhdf5 under /usr/include/hdf5/serial.
#include "/usr/include/hdf5/serial/hdf5.h"
