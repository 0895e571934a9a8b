// oneDNN runs its threads on OpenMP (libgomp), whose idle threads spin for a while by default and
// would take a core from TBB or OpenBLAS on 2 cores. libgomp reads OMP_WAIT_POLICY once, in its own
// initialiser, which runs before any of libxgrad's (libgomp is a dependency of oneDNN, a dependency
// of libxgrad). An executable's .preinit_array runs before every shared library's initialiser, so
// this file is compiled into each program that uses xgrad (xgrad_dep's sources) and asks for passive
// waiting there, unless the environment already chose a policy.
#include <cstdlib>

namespace {
void wait_passively(int, char**, char**) { setenv("OMP_WAIT_POLICY", "passive", 0); }
[[gnu::used, gnu::section(".preinit_array")]] void (*const set_openmp_wait_policy)(int, char**, char**) = wait_passively;
}  // namespace
