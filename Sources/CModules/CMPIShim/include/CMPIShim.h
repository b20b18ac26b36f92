// Petal's door to MPI: Open MPI's libmpi.so.40, loaded with dlopen only when mpirun started
// the process, so that `petal` starts as fast as before, and runs on machines without MPI.
// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM...) are addresses of exported
// globals, looked up by name; no mpi.h is needed to build.
#ifndef PETAL_CMPISHIM_H
#define PETAL_CMPISHIM_H

#include <stddef.h>

/// 1 when a launcher (mpirun, PMIx) started this process as one of several ranks.
int petal_mpi_launched(void);

/// Loads libmpi.so.40 and initialises MPI (one thread calls MPI; errors are returned, not fatal).
/// Returns 0, or -1 with a message in `error`. Registers MPI_Finalize to run at exit.
int petal_mpi_init(char *error, size_t capacity);

/// 1 once petal_mpi_init succeeded (and MPI is not finalised).
int petal_mpi_active(void);
int petal_mpi_rank(void);
int petal_mpi_size(void);

/// Collectives on MPI_COMM_WORLD; each returns an MPI error code (0 on success).
/// Counts may exceed INT_MAX (the buffers are sent in pieces).
int petal_mpi_allreduce_sum_float(float *values, size_t count);
int petal_mpi_allreduce_sum_double(double *values, size_t count);
int petal_mpi_broadcast(void *bytes, size_t count, int root);
int petal_mpi_barrier(void);

/// MPI's text for an error code.
void petal_mpi_error_string(int code, char *buffer, size_t capacity);

/// Ends every rank of the job (MPI_Abort) with `code`.
void petal_mpi_abort(int code);

/// A collective that has not returned after `seconds` (> 0) means another rank died or hung:
/// the watchdog prints `message` and the waiting time, and aborts the job.
void petal_mpi_set_timeout(double seconds);

/// Seconds spent inside allreduces since start (waiting for the other ranks included), and their count.
double petal_mpi_seconds_in_allreduce(void);
long long petal_mpi_allreduce_calls(void);

#endif
