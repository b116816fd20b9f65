// CMPIShim: see include/CMPIShim.h.
#include "CMPIShim.h"
#include <mpi.h>
#include <time.h>

static MPI_Datatype datatype(int type) {
    switch (type) {
    case VERITY_MPI_FLOAT: return MPI_FLOAT;
    case VERITY_MPI_DOUBLE: return MPI_DOUBLE;
    case VERITY_MPI_LONG: return MPI_LONG;
    default: return MPI_BYTE;
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile double stop_time = 0, stop_grace = 0;

void verity_mpi_request_stop(double grace_s) {
    if (stop_time == 0) {
        stop_grace = grace_s;
        stop_time = now();
    }
}

/// Polls `request` until it completes or `timeout_s` passes (or, after a stop request, its grace): spins briefly,
/// then sleeps 50 us growing to 2 ms.
static int wait_for(MPI_Request *request, double timeout_s) {
    double start = now();
    long sleep_ns = 50000;
    for (int spins = 0;; spins++) {
        int done = 0;
        if (MPI_Test(request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return VERITY_MPI_ERROR;
        if (done) return VERITY_MPI_OK;
        if (spins < 200) continue;
        double t = now();
        if (timeout_s > 0 && t - start > timeout_s) return VERITY_MPI_TIMEOUT;
        double stopped = stop_time;
        if (stopped > 0 && t - (stopped > start ? stopped : start) > stop_grace) return VERITY_MPI_STOPPED;
        struct timespec s = {0, sleep_ns};
        nanosleep(&s, NULL);
        if (sleep_ns < 2000000) sleep_ns *= 2;
    }
}

int verity_mpi_initialized(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int verity_mpi_init(int *rank, int *size) {
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) return VERITY_MPI_ERROR;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS) return VERITY_MPI_ERROR;
    if (MPI_Comm_size(MPI_COMM_WORLD, size) != MPI_SUCCESS) return VERITY_MPI_ERROR;
    return VERITY_MPI_OK;
}

void verity_mpi_finalize(void) {
    if (verity_mpi_initialized()) MPI_Finalize();
}

void verity_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void verity_mpi_library_version(char *out, int capacity) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(v, &n);
    int i = 0;
    for (; i < n && i < capacity - 1 && v[i] && v[i] != '\n'; i++) out[i] = v[i];
    if (capacity > 0) out[i] = 0;
}

/// Waits, with sleeps and the deadlines, until every rank has reached this collective (a non-blocking barrier).
/// The collective itself then runs blocking: every rank is there, so it moves the data at full speed (a non-blocking
/// collective only progresses inside MPI_Test, and polling it with sleeps made a 0.8 GB all-reduce take a minute).
static int all_present(double timeout_s) {
    MPI_Request r;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &r) != MPI_SUCCESS) return VERITY_MPI_ERROR;
    return wait_for(&r, timeout_s);
}

int verity_mpi_allreduce(void *buffer, long count, int type, int op, double timeout_s) {
    int s = all_present(timeout_s);
    if (s != VERITY_MPI_OK) return s;
    // MPI counts are ints: large buffers go in slices.
    int size = 1;
    MPI_Type_size(datatype(type), &size);
    char *p = buffer;
    while (count > 0) {
        int n = count > (1L << 30) ? (1 << 30) : (int)count;
        if (MPI_Allreduce(MPI_IN_PLACE, p, n, datatype(type), op == VERITY_MPI_MAX ? MPI_MAX : MPI_SUM,
                          MPI_COMM_WORLD) != MPI_SUCCESS)
            return VERITY_MPI_ERROR;
        p += (long)n * size;
        count -= n;
    }
    return VERITY_MPI_OK;
}

int verity_mpi_broadcast(void *buffer, long count, int root, double timeout_s) {
    int s = all_present(timeout_s);
    if (s != VERITY_MPI_OK) return s;
    char *p = buffer;
    while (count > 0) {
        int n = count > (1L << 30) ? (1 << 30) : (int)count;
        if (MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS) return VERITY_MPI_ERROR;
        p += n;
        count -= n;
    }
    return VERITY_MPI_OK;
}

int verity_mpi_allgather_long(long value, long *out, double timeout_s) {
    int s = all_present(timeout_s);
    if (s != VERITY_MPI_OK) return s;
    return MPI_Allgather(&value, 1, MPI_LONG, out, 1, MPI_LONG, MPI_COMM_WORLD) == MPI_SUCCESS ? VERITY_MPI_OK
                                                                                             : VERITY_MPI_ERROR;
}

int verity_mpi_allgatherv(const void *buffer, int count, void *out, const int *counts, const int *displacements,
                          double timeout_s) {
    int s = all_present(timeout_s);
    if (s != VERITY_MPI_OK) return s;
    return MPI_Allgatherv(buffer, count, MPI_BYTE, out, counts, displacements, MPI_BYTE, MPI_COMM_WORLD) ==
                   MPI_SUCCESS
               ? VERITY_MPI_OK
               : VERITY_MPI_ERROR;
}

int verity_mpi_barrier(double timeout_s) { return all_present(timeout_s); }
