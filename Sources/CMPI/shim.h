#include <mpi.h>

// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are macros over casts of global
// structs, which Swift does not import; these functions return them.
static inline MPI_Comm cals_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cals_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cals_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op cals_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Errhandler cals_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline const void *cals_mpi_in_place(void) { return MPI_IN_PLACE; }
enum { CALS_MPI_MAX_ERROR_STRING = MPI_MAX_ERROR_STRING };
