# Sourced by the scripts. OpenBLAS 0.3.21 (Debian 12) does not recognise some newer CPUs and falls
# back to its SSE3 "Prescott" kernels, 4x slower than the AVX-512 ones (measured here: 13 vs 55
# GFLOP/s on one thread). When OPENBLAS_CORETYPE is unset, name the kernel family the CPU supports;
# when it is set (some machines set it on purpose), leave it alone.
if [[ -z "${OPENBLAS_CORETYPE+x}" && -r /proc/cpuinfo ]]; then
  cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo)
  has() { [[ " $cpu_flags " == *" $1 "* ]]; }
  if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif has avx2 && has fma; then
    export OPENBLAS_CORETYPE=Haswell
  fi
  unset cpu_flags
  unset -f has
fi
