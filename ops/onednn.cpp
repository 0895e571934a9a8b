// The oneDNN path of conv2d and the pooling ops (float32), and the one place that knows oneDNN: its
// engine, streams and the primitive cache.
//
// Each thread keeps its primitives by geometry, each with its argument memories and its own
// scratchpad, so that a step whose shapes repeat creates no primitive and allocates nothing: the
// memories get the step's pointers (set_data_handle) and the primitive runs through the C API with
// its arguments in an array (the C++ execute() builds a std::unordered_map per call).
//
// Tensors are NCHW / OIHW. Convolutions run in the layouts oneDNN prefers (blocked, nChw16c and the
// like), reordered from and to the plain ones inside each call: on NCHW itself oneDNN 2.6 falls back
// to its GEMM-based convolution, which is slower and allocates its packing buffers on every call
// (docs/performance.md has the figures). Pooling runs on NCHW.
//
// oneDNN's threads are OpenMP's (libgomp). Before each call the calling thread's OpenMP team size is
// set to xgrad's one thread setting (detail::threads_per_call()); their passive wait comes from
// src/openmp_wait_policy.cpp.
#include <omp.h>

#include <map>
#include <string>
#include <tuple>
#include <utility>
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

const dnnl::engine& engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The caller's buffers (plain layouts, pointers set per run) and the primitives that run over them:
// reorders into the layouts the computation prefers, the computation, reorders back. Blocked copies
// and scratchpads are made once and owned here.
class Pipeline {
 public:
  // The next of run()'s pointers, laid out as `desc`.
  memory external(const memory::desc& desc) {
    external_.emplace_back(desc, engine(), static_cast<void*>(DNNL_MEMORY_NONE));
    return external_.back();
  }
  // An input as `wanted`: itself when the layouts agree, otherwise a copy a reorder fills first.
  memory input_as(const memory& plain, const memory::desc& wanted) {
    if (plain.get_desc() == wanted) return plain;
    memory copy(wanted, engine());
    add_reorder(plain, copy);
    return copy;
  }
  // An output as `wanted`: itself, or a copy reordered into it after the computation (finish()).
  memory output_as(const memory& plain, const memory::desc& wanted) {
    if (plain.get_desc() == wanted) return plain;
    memory copy(wanted, engine());
    pending_outputs_.emplace_back(copy, plain);
    return copy;
  }
  template <class PrimitiveDesc>
  void add(const PrimitiveDesc& pd, std::initializer_list<std::pair<int, memory>> args) {
    Call call{dnnl::primitive(pd.get()), {}, memory(pd.scratchpad_desc(), engine())};
    for (const auto& [arg, mem] : args) call.args.push_back({arg, mem.get()});
    call.args.push_back({DNNL_ARG_SCRATCHPAD, call.scratchpad.get()});
    calls_.push_back(std::move(call));
    for (const auto& [arg, mem] : args) owned_.push_back(mem);  // the copies live as long as the calls
    const auto outputs = std::exchange(pending_outputs_, {});
    for (const auto& [copy, plain] : outputs) add_reorder(copy, plain);
  }
  std::size_t primitives() const { return calls_.size(); }

  void run(dnnl::stream& stream, std::initializer_list<const void*> pointers) {
    std::size_t i = 0;
    for (const void* p : pointers)
      dnnl::error::wrap_c_api(dnnl_memory_set_data_handle(external_[i++].get(), const_cast<void*>(p)), "set_data_handle");
    omp_set_num_threads(threads_per_call());
    for (Call& call : calls_)
      dnnl::error::wrap_c_api(dnnl_primitive_execute(call.primitive.get(), stream.get(), int(call.args.size()), call.args.data()),
                              "could not execute a oneDNN primitive");
    stream.wait();
  }

 private:
  struct Call {
    dnnl::primitive primitive;
    std::vector<dnnl_exec_arg_t> args;
    memory scratchpad;
  };
  void add_reorder(const memory& from, const memory& to) {
    const dnnl::reorder::primitive_desc pd(engine(), from.get_desc(), engine(), to.get_desc(), user_scratchpad());
    add(pd, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }

  std::vector<memory> external_, owned_;
  std::vector<std::pair<memory, memory>> pending_outputs_;  // (computed copy, plain output)
  std::vector<Call> calls_;
};

struct ConvPrimitives {
  Pipeline forward, backward_data, backward_weights;
};
struct PoolPrimitives {
  Pipeline forward, backward;
  std::size_t workspace_bytes;
};

memory::desc f32(const dims& d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

// Whether convolutions ask oneDNN for its preferred (blocked) layouts.
bool blocked_convolutions = true;

ConvPrimitives make_conv(const Conv2dGeometry& g) {
  const memory::dim n = g.n, c = g.c, k = g.k, groups = g.groups;
  const memory::desc src = f32({n, c, g.h, g.w}, tag::nchw), dst = f32({n, k, g.oh, g.ow}, tag::nchw);
  const memory::desc weights = groups == 1 ? f32({k, c, g.fh, g.fw}, tag::oihw)
                                           : f32({groups, k / groups, c / groups, g.fh, g.fw}, tag::goihw);
  const memory::desc bias = g.bias ? f32({k}, tag::a) : memory::desc();
  // The computation's layouts: oneDNN's choice (format `any`), or the plain ones.
  const auto chosen = [](const memory::desc& plain) {
    return blocked_convolutions ? memory::desc(plain.dims(), memory::data_type::f32, tag::any) : plain;
  };
  const memory::desc src_c = chosen(src), dst_c = chosen(dst), weights_c = chosen(weights);
  // oneDNN counts dilation from 0 (no gaps); padding on the right as on the left, its output-size
  // rule rounding down like ours.
  const dims strides{g.stride_h, g.stride_w}, dilates{g.dil_h - 1, g.dil_w - 1}, padding{g.pad_h, g.pad_w};
  const auto alg = dnnl::algorithm::convolution_direct;
  const auto attr = user_scratchpad();
  const dnnl::convolution_forward::primitive_desc forward(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src_c, weights_c, bias, dst_c, strides,
                                      dilates, padding, padding),
      attr, engine());
  const dnnl::convolution_backward_data::primitive_desc backward_data(
      dnnl::convolution_backward_data::desc(alg, src_c, weights_c, dst_c, strides, dilates, padding, padding), attr,
      engine(), forward);
  // The bias's gradient is a plain sum (conv2d_backward_bias), kept apart from the weights'.
  const dnnl::convolution_backward_weights::primitive_desc backward_weights(
      dnnl::convolution_backward_weights::desc(alg, src_c, weights_c, dst_c, strides, dilates, padding, padding),
      attr, engine(), forward);

  ConvPrimitives p;
  {
    Pipeline& f = p.forward;
    const memory x = f.external(src), w = f.external(weights);
    const memory b = g.bias ? f.external(bias) : memory();
    const memory y = f.external(dst);
    const memory xs = f.input_as(x, forward.src_desc()), ws = f.input_as(w, forward.weights_desc());
    const memory ys = f.output_as(y, forward.dst_desc());
    if (g.bias)
      f.add(forward, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, ys}});
    else
      f.add(forward, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}});
  }
  {
    Pipeline& d = p.backward_data;
    const memory gy = d.external(dst), w = d.external(weights), gx = d.external(src);
    const memory gys = d.input_as(gy, backward_data.diff_dst_desc()), ws = d.input_as(w, backward_data.weights_desc());
    const memory gxs = d.output_as(gx, backward_data.diff_src_desc());
    d.add(backward_data, {{DNNL_ARG_DIFF_DST, gys}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DIFF_SRC, gxs}});
  }
  {
    Pipeline& b = p.backward_weights;
    const memory x = b.external(src), gy = b.external(dst), gw = b.external(weights);
    const memory xs = b.input_as(x, backward_weights.src_desc()), gys = b.input_as(gy, backward_weights.diff_dst_desc());
    const memory gws = b.output_as(gw, backward_weights.diff_weights_desc());
    b.add(backward_weights, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_DIFF_DST, gys}, {DNNL_ARG_DIFF_WEIGHTS, gws}});
  }
  return p;
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
  const bool max = g.kind == PoolKind::max;
  PoolPrimitives p{{}, {}, max ? workspace.get_size() : 0};
  {
    const memory x = p.forward.external(src), y = p.forward.external(dst);
    if (max)
      p.forward.add(forward, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}, {DNNL_ARG_WORKSPACE, p.forward.external(workspace)}});
    else
      p.forward.add(forward, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
  }
  {
    const memory gy = p.backward.external(dst);
    const memory ws = max ? p.backward.external(workspace) : memory();
    const memory gx = p.backward.external(src);
    if (max)
      p.backward.add(backward, {{DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC, gx}});
    else
      p.backward.add(backward, {{DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_DIFF_SRC, gx}});
  }
  return p;
}

// This thread's stream and primitives.
struct Cache {
  dnnl::stream stream{engine()};
  std::map<std::tuple<Conv2dGeometry, bool>, ConvPrimitives> convs;  // by geometry and blocked_convolutions
  std::map<std::tuple<Pool2dGeometry>, PoolPrimitives> pools;
  std::size_t created = 0;
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

template <class Map, class Key, class Make, class Count>
auto& find_or_make(Map& map, const Key& key, Make&& make, Count&& count) {
  auto it = map.find(key);
  if (it == map.end()) {
    try {
      it = map.emplace(key, make(std::get<0>(key))).first;
    } catch (const dnnl::error& e) {
      throw value_error(std::string("oneDNN: could not create the primitives of a convolution or pooling (") +
                        e.what() + ")");
    }
    cache().created += count(it->second);
  }
  return it->second;
}

ConvPrimitives& conv(const Conv2dGeometry& g) {
  return find_or_make(cache().convs, std::tuple(g, blocked_convolutions), make_conv, [](const ConvPrimitives& p) {
    return p.forward.primitives() + p.backward_data.primitives() + p.backward_weights.primitives();
  });
}
PoolPrimitives& pool(const Pool2dGeometry& g) {
  return find_or_make(cache().pools, std::tuple(g), make_pool,
                      [](const PoolPrimitives& p) { return p.forward.primitives() + p.backward.primitives(); });
}
}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  Pipeline& p = conv(g).forward;
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
  Pipeline& p = pool(g).forward;
  if (g.kind == PoolKind::max)
    p.run(cache().stream, {x, y, workspace});
  else
    p.run(cache().stream, {x, y});
}

void pool2d_backward(const Pool2dGeometry& g, const float* gy, const void* workspace, float* gx) {
  Pipeline& p = pool(g).backward;
  if (g.kind == PoolKind::max)
    p.run(cache().stream, {gy, workspace, gx});
  else
    p.run(cache().stream, {gy, gx});
}

std::size_t primitives_created() { return cache().created; }

void set_blocked_convolutions(bool on) { blocked_convolutions = on; }

}  // namespace xg::detail::onednn
