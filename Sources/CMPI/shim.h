// CMPI: the system MPI library (Debian libopenmpi-dev; any MPI-3 implementation whose mpi.h pkg-config finds).
#include <mpi.h>
