#pragma once
// Everything a user of xgrad needs.
#include "xgrad/data/fashion_mnist.hpp"
#include "xgrad/errors.hpp"
#include "xgrad/gradcheck.hpp"
#include "xgrad/io/safetensors.hpp"
#include "xgrad/nn/layers.hpp"
#include "xgrad/ops.hpp"
#include "xgrad/optim/optim.hpp"
#include "xgrad/random.hpp"
#include "xgrad/registry.hpp"
#include "xgrad/tensor.hpp"
#include "xgrad/threads.hpp"
#include "xgrad/train/train.hpp"
#include "xgrad/tune/classifier.hpp"
#include "xgrad/tune/results.hpp"
#include "xgrad/tune/search.hpp"
#include "xgrad/tune/space.hpp"
#ifdef XGRAD_WITH_MPI  // built with MPI (Meson option mpi)
#include "xgrad/dist/context.hpp"
#include "xgrad/dist/data_parallel.hpp"
#include "xgrad/dist/tune.hpp"
#endif
