#pragma once
// How the command-line examples end on an error: every exception, xgrad's typed ones and any other
// (out of memory, a library's own), becomes one line on stderr and exit status 1, never an abort.
#include <cstdio>
#include <exception>
#include <new>

template <class Body>
int run_reporting_errors(Body body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory (is the model or a batch too large for this machine?)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "error: an exception of unknown type\n");
  }
  return 1;
}
