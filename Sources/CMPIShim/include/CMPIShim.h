// CMPIShim: the few MPI calls Verity makes, as plain C functions Swift can call. mpi.h names its handles through
// macros (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM ...) that Swift cannot import, so they are spelled here. Every
// collective first waits for all ranks to arrive through a non-blocking barrier polled with short sleeps, which does
// two things a blocking call does not: a rank that waits for a slower one does not spin a core that the slower one
// needs, and a wait has a deadline (`timeout_s`, 0 = none) after which the call returns VERITY_MPI_TIMEOUT instead of
// hanging. With every rank present, the collective itself then runs as a blocking call, at full speed. The policy
// (what a timeout means, what to print, when to abort) is Swift's: VerityDistributed.
#ifndef CMPISHIM_H
#define CMPISHIM_H
#include <stddef.h>

enum verity_mpi_status {
    VERITY_MPI_OK = 0,
    VERITY_MPI_TIMEOUT = -1,
    VERITY_MPI_ERROR = -2,
    VERITY_MPI_STOPPED = -3,
};

enum verity_mpi_type {
    VERITY_MPI_FLOAT = 0,
    VERITY_MPI_DOUBLE = 1,
    VERITY_MPI_BYTE = 2,
    VERITY_MPI_LONG = 3,
};

enum verity_mpi_op {
    VERITY_MPI_SUM = 0,
    VERITY_MPI_MAX = 1,
};

/// Whether MPI_Init has run (and MPI_Finalize has not).
int verity_mpi_initialized(void);
/// MPI_Init_thread (serialized calls); writes the world's rank and size. Returns VERITY_MPI_OK or an error.
int verity_mpi_init(int *rank, int *size);
/// MPI_Finalize.
void verity_mpi_finalize(void);
/// MPI_Abort on the world: ends every rank of the job with `code`.
void verity_mpi_abort(int code);
/// The library's version string (MPI_Get_library_version), into `out` (at most `capacity` bytes, NUL-terminated).
void verity_mpi_library_version(char *out, int capacity);

/// Marks a stop request (a signal) now: from then on, a collective that waits more than `grace_s` seconds (counted
/// from the request or from its own start, whichever is later) returns VERITY_MPI_STOPPED. Async-signal-safe.
void verity_mpi_request_stop(double grace_s);

/// In-place all-reduce of `count` elements of `type` with `op`.
int verity_mpi_allreduce(void *buffer, long count, int type, int op, double timeout_s);
/// Broadcast of `count` bytes from `root`.
int verity_mpi_broadcast(void *buffer, long count, int root, double timeout_s);
/// All-gather of one long per rank: `out` holds `size` longs.
int verity_mpi_allgather_long(long value, long *out, double timeout_s);
/// All-gather of variable byte counts: rank r's `count` bytes land at out + displacements[r]; `counts` and
/// `displacements` hold every rank's (from verity_mpi_allgather_long).
int verity_mpi_allgatherv(const void *buffer, int count, void *out, const int *counts, const int *displacements,
                          double timeout_s);
/// A barrier.
int verity_mpi_barrier(double timeout_s);

#endif
