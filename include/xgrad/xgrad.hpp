#pragma once
// Everything a user of xgrad needs.
#include "xgrad/errors.hpp"
#include "xgrad/gradcheck.hpp"
#include "xgrad/ops.hpp"
#include "xgrad/random.hpp"
#include "xgrad/registry.hpp"
#include "xgrad/tensor.hpp"
#include "xgrad/threads.hpp"
