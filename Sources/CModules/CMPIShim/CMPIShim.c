#include "CMPIShim.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Open MPI 4.x's ABI (libmpi.so.40): handles are pointers, MPI_IN_PLACE is (void *)1.
typedef void *petal_handle;
#define PETAL_MPI_IN_PLACE ((void *)1)
#define PETAL_MPI_THREAD_FUNNELED 1

static struct {
    void *library;
    petal_handle world, float_type, double_type, byte_type, sum, errors_return;
    int (*init_thread)(int *, char ***, int, int *);
    int (*finalize)(void);
    int (*finalized)(int *);
    int (*comm_rank)(petal_handle, int *);
    int (*comm_size)(petal_handle, int *);
    int (*comm_set_errhandler)(petal_handle, petal_handle);
    int (*allreduce)(const void *, void *, int, petal_handle, petal_handle, petal_handle);
    int (*bcast)(void *, int, petal_handle, int, petal_handle);
    int (*barrier)(petal_handle);
    int (*abort)(petal_handle, int);
    int (*error_string)(int, char *, int *);
    int rank, size;
} mpi;

static atomic_int active;
// The watchdog's view: when the running collective began (0 when none runs), in ns.
static atomic_llong collective_started;
// Time in and number of allreduces (broadcasts and barriers are set-up, not counted).
static atomic_llong allreduce_total;
static atomic_llong allreduce_calls;
static atomic_llong timeout_ns;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int petal_mpi_launched(void) {
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (size && atoi(size) > 1) return 1;
    const char *pmix_size = getenv("PMIX_SIZE");  // other PMIx launchers (srun --mpi=pmix)
    return getenv("PMIX_RANK") && pmix_size && atoi(pmix_size) > 1;
}

static void finalize_at_exit(void) {
    if (!atomic_exchange(&active, 0)) return;
    int done = 0;
    mpi.finalized(&done);
    if (!done) mpi.finalize();
}

#define LOOK_UP(field, name)                                                                   \
    do {                                                                                       \
        *(void **)(&mpi.field) = dlsym(mpi.library, name);                                     \
        if (!mpi.field) {                                                                      \
            snprintf(error, capacity, "%s has no symbol %s (Petal needs Open MPI 4, libmpi.so.40)", \
                     path, name);                                                              \
            return -1;                                                                         \
        }                                                                                      \
    } while (0)

int petal_mpi_init(char *error, size_t capacity) {
    if (atomic_load(&active)) return 0;
    const char *path = "libmpi.so.40";
    // RTLD_GLOBAL: Open MPI's plug-ins (its MCA components) resolve symbols of libmpi itself.
    mpi.library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!mpi.library) {
        snprintf(error, capacity,
                 "started by mpirun, but %s cannot be loaded (%s); install Open MPI: apt-get install libopenmpi-dev openmpi-bin",
                 path, dlerror());
        return -1;
    }
    LOOK_UP(world, "ompi_mpi_comm_world");
    LOOK_UP(float_type, "ompi_mpi_float");
    LOOK_UP(double_type, "ompi_mpi_double");
    LOOK_UP(byte_type, "ompi_mpi_byte");
    LOOK_UP(sum, "ompi_mpi_op_sum");
    LOOK_UP(errors_return, "ompi_mpi_errors_return");
    LOOK_UP(init_thread, "MPI_Init_thread");
    LOOK_UP(finalize, "MPI_Finalize");
    LOOK_UP(finalized, "MPI_Finalized");
    LOOK_UP(comm_rank, "MPI_Comm_rank");
    LOOK_UP(comm_size, "MPI_Comm_size");
    LOOK_UP(comm_set_errhandler, "MPI_Comm_set_errhandler");
    LOOK_UP(allreduce, "MPI_Allreduce");
    LOOK_UP(bcast, "MPI_Bcast");
    LOOK_UP(barrier, "MPI_Barrier");
    LOOK_UP(abort, "MPI_Abort");
    LOOK_UP(error_string, "MPI_Error_string");

    int provided = 0;
    int code = mpi.init_thread(NULL, NULL, PETAL_MPI_THREAD_FUNNELED, &provided);
    if (code != 0) {
        snprintf(error, capacity, "MPI_Init_thread failed with MPI error %d", code);
        return -1;
    }
    // Errors come back as codes, so Petal can name what failed before ending the job.
    mpi.comm_set_errhandler(mpi.world, mpi.errors_return);
    mpi.comm_rank(mpi.world, &mpi.rank);
    mpi.comm_size(mpi.world, &mpi.size);
    atomic_store(&active, 1);
    atexit(finalize_at_exit);
    return 0;
}

int petal_mpi_active(void) { return atomic_load(&active); }
int petal_mpi_rank(void) { return atomic_load(&active) ? mpi.rank : 0; }
int petal_mpi_size(void) { return atomic_load(&active) ? mpi.size : 1; }

static void collective_begins(void) { atomic_store(&collective_started, now_ns()); }

static void collective_ends(int is_allreduce) {
    long long started = atomic_exchange(&collective_started, 0);
    if (!is_allreduce) return;
    atomic_fetch_add(&allreduce_total, now_ns() - started);
    atomic_fetch_add(&allreduce_calls, 1);
}

double petal_mpi_seconds_in_allreduce(void) { return (double)atomic_load(&allreduce_total) / 1e9; }

long long petal_mpi_allreduce_calls(void) { return atomic_load(&allreduce_calls); }

static const size_t piece = (size_t)1 << 30;

// In-place sum of `count` elements of `size` bytes and MPI type `type`, in pieces of at most 2^30.
static int allreduce_sum(char *values, size_t count, size_t size, petal_handle type) {
    int code = 0;
    collective_begins();
    for (size_t start = 0; start < count && code == 0; start += piece) {
        size_t n = count - start < piece ? count - start : piece;
        code = mpi.allreduce(PETAL_MPI_IN_PLACE, values + start * size, (int)n, type, mpi.sum, mpi.world);
    }
    collective_ends(1);
    return code;
}

int petal_mpi_allreduce_sum_float(float *values, size_t count) {
    return allreduce_sum((char *)values, count, sizeof(float), mpi.float_type);
}

int petal_mpi_allreduce_sum_double(double *values, size_t count) {
    return allreduce_sum((char *)values, count, sizeof(double), mpi.double_type);
}

int petal_mpi_broadcast(void *bytes, size_t count, int root) {
    int code = 0;
    collective_begins();
    for (size_t start = 0; start < count && code == 0; start += piece) {
        size_t n = count - start < piece ? count - start : piece;
        code = mpi.bcast((char *)bytes + start, (int)n, mpi.byte_type, root, mpi.world);
    }
    collective_ends(0);
    return code;
}

int petal_mpi_barrier(void) {
    collective_begins();
    int code = mpi.barrier(mpi.world);
    collective_ends(0);
    return code;
}

void petal_mpi_error_string(int code, char *buffer, size_t capacity) {
    char text[512];  // MPI_MAX_ERROR_STRING is 256 in Open MPI
    int length = 0;
    if (atomic_load(&active) && mpi.error_string(code, text, &length) == 0) {
        snprintf(buffer, capacity, "%.*s", length, text);
    } else {
        snprintf(buffer, capacity, "MPI error %d", code);
    }
}

void petal_mpi_abort(int code) {
    if (atomic_exchange(&active, 0)) mpi.abort(mpi.world, code);
    _exit(code);
}

static void *watch(void *unused) {
    (void)unused;
    for (;;) {
        sleep(1);
        long long started = atomic_load(&collective_started), limit = atomic_load(&timeout_ns);
        if (started && limit > 0 && now_ns() - started > limit) {
            fprintf(stderr,
                    "petal: rank %d of %d waited %.0f s for the other ranks (PETAL_MPI_TIMEOUT): one of them has "
                    "stopped or hangs; ending the job\n",
                    mpi.rank, mpi.size, (double)(now_ns() - started) / 1e9);
            fflush(stderr);
            // Not MPI_Abort: MPI is called from the main thread only (MPI_THREAD_FUNNELED). A rank
            // that exits without MPI_Finalize makes mpirun end all the others.
            _exit(1);
        }
    }
    return NULL;
}

void petal_mpi_set_timeout(double seconds) {
    long long previous = atomic_exchange(&timeout_ns, (long long)(seconds * 1e9));
    if (previous == 0 && seconds > 0) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, watch, NULL) == 0) pthread_detach(thread);
    }
}
