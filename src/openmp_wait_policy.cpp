// oneDNN runs its threads on OpenMP (libgomp), whose idle threads spin for a while by default and
// would take a core from TBB or OpenBLAS on 2 cores. libgomp reads OMP_WAIT_POLICY once, in its own
// initialiser, which runs before any of libxgrad's (libgomp is a dependency of oneDNN), and glibc
// resets the environment to the process's original one just before that, so a setenv() from an
// early hook is lost. This file, compiled into each program that uses xgrad (xgrad_dep's sources),
// therefore re-executes the program once, before any library starts, with OMP_WAIT_POLICY=passive
// added, unless the environment already chooses a policy.
#include <unistd.h>

#include <cstring>

namespace {
void wait_passively(int, char** argv, char** envp) {
  static char policy[] = "OMP_WAIT_POLICY=passive";
  static char* environment[4096];
  std::size_t n = 0;
  for (; envp[n]; ++n) {
    if (std::strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0) return;
    if (n + 2 >= sizeof environment / sizeof *environment) return;  // too large to copy: leave it
    environment[n] = envp[n];
  }
  environment[n] = policy;
  environment[n + 1] = nullptr;
  execve("/proc/self/exe", argv, environment);  // on failure the program runs on, spinning
}
[[gnu::used, gnu::section(".preinit_array")]] void (*const set_openmp_wait_policy)(int, char**, char**) = wait_passively;
}  // namespace
