// The oneDNN path of conv2d and the pooling ops (float32), and the one place that knows oneDNN: its
// engine, streams and the primitive cache.
//
// Each thread keeps its primitives by geometry, each with its argument memories and its own
// scratchpad, so that a step whose shapes repeat creates no primitive and allocates nothing: the
// memories get the step's pointers (set_data_handle) and the primitive runs through the C API with
// its arguments in an array (the C++ execute() builds a std::unordered_map per call). Layouts are
// NCHW / OIHW, xgrad's own: no reorders.
//
// oneDNN's threads are OpenMP's (libgomp). Before each call the calling thread's OpenMP team size is
// set to xgrad's one thread setting (detail::openmp_threads()); their passive wait comes from
// src/openmp_wait_policy.cpp.
#include <omp.h>

#include <map>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "xgrad/detail/conv.hpp"
#include "xgrad/errors.hpp"
#include "xgrad/threads.hpp"

namespace xg::detail::onednn {

namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dims = memory::dims;

// One primitive and the memories of its arguments, in the order run() receives their pointers.
struct Primitive {
  dnnl::primitive primitive;
  std::vector<memory> memories;
  std::vector<dnnl_exec_arg_t> args;
  memory scratchpad;  // owned: the primitive's own working memory

  template <class PrimitiveDesc>
  Primitive(const PrimitiveDesc& pd, const dnnl::engine& engine, std::initializer_list<std::pair<int, memory::desc>> arg_descs)
      : primitive(pd), scratchpad(pd.scratchpad_desc(), engine) {
    for (const auto& [arg, desc] : arg_descs) {
      memories.emplace_back(desc, engine, static_cast<void*>(DNNL_MEMORY_NONE));
      args.push_back({arg, memories.back().get()});
    }
    args.push_back({DNNL_ARG_SCRATCHPAD, scratchpad.get()});
  }

  void run(dnnl::stream& stream, std::initializer_list<const void*> pointers) {
    std::size_t i = 0;
    for (const void* p : pointers) dnnl::error::wrap_c_api(dnnl_memory_set_data_handle(memories[i++].get(), const_cast<void*>(p)), "set_data_handle");
    omp_set_num_threads(openmp_threads() > 0 ? openmp_threads() : omp_get_num_procs());
    dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), stream.get(), int(args.size()), args.data()),
                            "could not execute a oneDNN primitive");
    stream.wait();
  }
};

struct ConvPrimitives {
  Primitive forward, backward_data, backward_weights;
};
struct PoolPrimitives {
  Primitive forward, backward;
  std::size_t workspace_bytes;
};

const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory::desc f32(const dims& d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

ConvPrimitives make_conv(const Conv2dGeometry& g) {
  const memory::dim n = g.n, c = g.c, k = g.k, groups = g.groups;
  const memory::desc src = f32({n, c, g.h, g.w}, tag::nchw), dst = f32({n, k, g.oh, g.ow}, tag::nchw);
  const memory::desc weights = groups == 1 ? f32({k, c, g.fh, g.fw}, tag::oihw)
                                           : f32({groups, k / groups, c / groups, g.fh, g.fw}, tag::goihw);
  const memory::desc bias = g.bias ? f32({k}, tag::a) : memory::desc();
  // oneDNN counts dilation from 0 (no gaps); padding on the right as on the left, its output-size
  // rule rounding down like ours.
  const dims strides{g.stride_h, g.stride_w}, dilates{g.dil_h - 1, g.dil_w - 1}, padding{g.pad_h, g.pad_w};
  const auto alg = dnnl::algorithm::convolution_direct;
  const auto attr = user_scratchpad();
  const dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, weights, bias, dst, strides,
                                      dilates, padding, padding),
      attr, engine());
  const dnnl::convolution_backward_data::primitive_desc backward_data(
      dnnl::convolution_backward_data::desc(alg, src, weights, dst, strides, dilates, padding, padding), attr,
      engine(), forward);
  const dnnl::convolution_backward_weights::primitive_desc backward_weights(
      // The bias's gradient is a plain sum (conv2d_backward_bias), kept apart from the weights'.
      dnnl::convolution_backward_weights::desc(alg, src, weights, dst, strides, dilates, padding, padding),
      attr, engine(), forward);
  using P = std::pair<int, memory::desc>;
  return {Primitive(forward, engine(),
                    g.bias ? std::initializer_list<P>{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}}
                           : std::initializer_list<P>{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}}),
          Primitive(backward_data, engine(), {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, src}}),
          Primitive(backward_weights, engine(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_WEIGHTS, weights}})};
}

PoolPrimitives make_pool(const Pool2dGeometry& g) {
  const memory::dim n = g.n, c = g.c;
  const memory::desc src = f32({n, c, g.h, g.w}, tag::nchw), dst = f32({n, c, g.oh, g.ow}, tag::nchw);
  const dims strides{g.stride_h, g.stride_w}, kernel{g.kh, g.kw}, padding{g.pad_h, g.pad_w};
  const auto alg = g.kind == PoolKind::max                ? dnnl::algorithm::pooling_max
                   : g.kind == PoolKind::avg_with_padding ? dnnl::algorithm::pooling_avg_include_padding
                                                          : dnnl::algorithm::pooling_avg_exclude_padding;
  const auto attr = user_scratchpad();
  const dnnl::pooling_forward::primitive_desc forward(
      dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, src, dst, strides, kernel, padding, padding),
      attr, engine());
  const dnnl::pooling_backward::primitive_desc backward(
      dnnl::pooling_backward::desc(alg, src, dst, strides, kernel, padding, padding), attr, engine(), forward);
  const memory::desc workspace = forward.workspace_desc();
  if (g.kind == PoolKind::max)
    return {Primitive(forward, engine(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_WORKSPACE, workspace}}),
            Primitive(backward, engine(), {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_WORKSPACE, workspace}, {DNNL_ARG_DIFF_SRC, src}}),
            workspace.get_size()};
  return {Primitive(forward, engine(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}),
          Primitive(backward, engine(), {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_SRC, src}}), 0};
}

// This thread's stream and primitives.
struct Cache {
  dnnl::stream stream{engine()};
  std::map<Conv2dGeometry, ConvPrimitives> convs;
  std::map<Pool2dGeometry, PoolPrimitives> pools;
  std::size_t created = 0;
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

template <class Map, class Key, class Make>
auto& find_or_make(Map& map, const Key& key, Make&& make, std::size_t primitives) {
  auto it = map.find(key);
  if (it == map.end()) {
    try {
      it = map.emplace(key, make(key)).first;
    } catch (const dnnl::error& e) {
      throw value_error(std::string("oneDNN: could not create the primitives of a convolution or pooling (") +
                        e.what() + ")");
    }
    cache().created += primitives;
  }
  return it->second;
}

ConvPrimitives& conv(const Conv2dGeometry& g) { return find_or_make(cache().convs, g, make_conv, 3); }
PoolPrimitives& pool(const Pool2dGeometry& g) { return find_or_make(cache().pools, g, make_pool, 2); }
}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  Primitive& p = conv(g).forward;
  if (g.bias)
    p.run(cache().stream, {x, w, bias, y});
  else
    p.run(cache().stream, {x, w, y});
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* gy, const float* w, float* gx) {
  conv(g).backward_data.run(cache().stream, {gy, w, gx});
}

void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* gy, float* gw) {
  conv(g).backward_weights.run(cache().stream, {x, gy, gw});
}

std::size_t pool2d_workspace_bytes(const Pool2dGeometry& g) { return pool(g).workspace_bytes; }

void pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, void* workspace) {
  Primitive& p = pool(g).forward;
  if (g.kind == PoolKind::max)
    p.run(cache().stream, {x, y, workspace});
  else
    p.run(cache().stream, {x, y});
}

void pool2d_backward(const Pool2dGeometry& g, const float* gy, const void* workspace, float* gx) {
  Primitive& p = pool(g).backward;
  if (g.kind == PoolKind::max)
    p.run(cache().stream, {gy, workspace, gx});
  else
    p.run(cache().stream, {gy, gx});
}

std::size_t primitives_created() { return cache().created; }

}  // namespace xg::detail::onednn
