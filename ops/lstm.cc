// lstm: multi-layer LSTM over [N, T, input] -> [N, T, hidden], PyTorch gate
// order (i, f, g, o): c' = f c + i g, h' = o tanh(c'). With "stateful" the
// session keeps h and c between calls (streaming text); otherwise every call
// starts from zeros. Quantized, both matrix products of every layer run in
// integers; h always lies in (-1, 1), so it is quantized on that fixed range.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/executor.h"
#include "core/lazy.h"
#include "core/scratch.h"
#include "ops/exp_matmul.h"
#include "ops/factories.h"
#include "ops/kernels/gemm_f32.h"
#include "ops/kernels/lstm_cell.h"
#include "ops/quantized_matmul.h"
#include "ops/shape_check.h"
#include "quant/calibration.h"

namespace bitlane::ops {
namespace {

struct LstmState : OpState {
  int64_t batch = -1;
  std::vector<std::vector<float>> h, c;  // per layer, [batch, hidden]
  void reset() override { batch = -1; }
};


// One step's cell updates: stream b from its input and recurrent gate
// pre-activations (rows of x and r, 4H apart), its c (H apart), writing h_t
// at y + b * ld_b.
struct StepCells {
  const float* x;
  const float* r;
  float* c;
  float* y;
  int64_t ld_b, hidden;
  void run(int64_t b0, int64_t b1) const {
    for (int64_t b = b0; b < b1; ++b)
      detail::lstm_cell(x + b * 4 * hidden, r + b * 4 * hidden, c + b * hidden, y + b * ld_b, hidden);
  }
};

class Lstm : public Op {
 public:
  explicit Lstm(OpBuilder& b) : where_(b.where()) {
    hidden_ = b.get_int("hidden_size");
    layers_ = b.get_int("layers", 1);
    stateful_ = b.get_bool("stateful", false);
    if (hidden_ < 1) b.error("hidden_size", "must be positive");
    if (layers_ < 1) b.error("layers", "must be positive");
    auto names = [&](const char* key, bool required) {
      std::vector<std::string> n = required || b.has(key) ? b.get_strings(key) : std::vector<std::string>{};
      // A required list must not be empty either (the fuzzer's `"weight_ih": []`
      // was indexed past its end); an optional one is empty or complete.
      if ((required || !n.empty()) && static_cast<int64_t>(n.size()) != layers_)
        b.error(key, "must name one weight per layer (" + std::to_string(layers_) + ")");
      return n;
    };
    const auto ih = names("weight_ih", true), hh = names("weight_hh", true);
    const auto bih = names("bias_ih", false), bhh = names("bias_hh", false);
    for (int64_t l = 0; l < layers_; ++l) {
      Layer L;
      L.w_ih = b.weight_named(ih[static_cast<size_t>(l)], "weight_ih");
      L.w_hh = b.weight_named(hh[static_cast<size_t>(l)], "weight_hh");
      const int64_t in = l == 0 ? (L.w_ih->rank() == 2 ? L.w_ih->dim(1) : -1) : hidden_;
      if (L.w_ih->shape() != Shape{4 * hidden_, in})
        b.error("weight_ih", "layer " + std::to_string(l) + " must be [" + std::to_string(4 * hidden_) +
                                 ", " + (l == 0 ? std::string("input") : std::to_string(hidden_)) +
                                 "], got " + shape_str(L.w_ih->shape()));
      if (L.w_hh->shape() != Shape{4 * hidden_, hidden_})
        b.error("weight_hh", "layer " + std::to_string(l) + " must be [" + std::to_string(4 * hidden_) +
                                 ", " + std::to_string(hidden_) + "], got " + shape_str(L.w_hh->shape()));
      L.bias.assign(static_cast<size_t>(4 * hidden_), 0.f);
      for (const auto* list : {&bih, &bhh}) {
        if (list->empty()) continue;
        auto t = b.weight_named((*list)[static_cast<size_t>(l)], list == &bih ? "bias_ih" : "bias_hh");
        if (t->shape() != Shape{4 * hidden_})
          b.error(list == &bih ? "bias_ih" : "bias_hh", "must be [" + std::to_string(4 * hidden_) +
                                                             "], got " + shape_str(t->shape()));
        for (int64_t i = 0; i < 4 * hidden_; ++i) L.bias[static_cast<size_t>(i)] += t->f32()[i];
      }
      L.in = in;
      layer_.push_back(std::move(L));
    }
  }
  const char* type() const override { return "lstm"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    expect_rank(where_, in[0], 3, "input (N, T, features)");
    if (in[0][2] != layer_[0].in)
      fail(where_, "input shape " + shape_str(in[0]) + " does not match weight_ih shape " +
                       shape_str(layer_[0].w_ih->shape()));
    return {{in[0][0], in[0][1], hidden_}};
  }

  std::unique_ptr<OpState> make_state() const override {
    return stateful_ ? std::make_unique<LstmState>() : nullptr;
  }

  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const int64_t n = in[0]->dim(0), steps = in[0]->dim(1), H = hidden_;
    LstmState local;
    LstmState& st = ctx.state ? static_cast<LstmState&>(*ctx.state) : local;
    if (st.batch != n) {  // fresh state (first call, reset, or a new batch size)
      st.batch = n;
      st.h.assign(static_cast<size_t>(layers_), std::vector<float>(static_cast<size_t>(n * H), 0.f));
      st.c = st.h;
    }
    // Streams are independent: on several threads each takes a block of at
    // least kMinStreams of them through every step and layer, so the threads
    // meet once per call instead of twice per step (the recurrent product
    // and the cell updates). Each stream's arithmetic is the same either way.
    constexpr int64_t kMinStreams = 8;
    const int64_t parts = std::min<int64_t>(ctx.ex.threads(), n / kMinStreams);
    if (parts < 2) {
      run_streams(ctx, in[0]->f32(), 0, n, steps, st, out[0]->f32());
      return;
    }
    ctx.ex.parallel_for(static_cast<size_t>(parts), 1, [&](size_t p0, size_t p1) {
      const RunContext inner{Executor::inline_executor(), ctx.state, ctx.reference, ctx.stats};
      for (size_t p = p0; p < p1; ++p) {
        const int64_t b0 = n * static_cast<int64_t>(p) / parts, b1 = n * static_cast<int64_t>(p + 1) / parts;
        run_streams(inner, in[0]->f32(), b0, b1, steps, st, out[0]->f32());
      }
    });
  }

  // Streams [s0, s1) of the input [*, steps, in] through every layer, their
  // rows of the state updated and of the output [*, steps, hidden] written.
  void run_streams(const RunContext& ctx, const float* input, int64_t s0, int64_t s1, int64_t steps,
                   LstmState& st, float* output) const {
    const int64_t n = s1 - s0, H = hidden_;
    // Time-major sequences ([steps, n, width]): the rows of one step are
    // contiguous, so the input products are computed for a block of steps at
    // a time into a cache-sized buffer (all steps at once were n * steps * 4H
    // floats -- 12.6 MB for the char LSTM at batch 64 -- which each step then
    // read back from memory, 64 scattered rows at a time). Values are the
    // same: every row's product is computed the same way wherever it sits.
    const int64_t block = std::clamp<int64_t>((int64_t{256} << 10) / (n * 4 * H * 4), 1, steps);
    thread_local std::vector<float> xw, gates, seq[2], x_tm;
    grow_scratch(xw, static_cast<size_t>(block * n * 4 * H));
    grow_scratch(gates, static_cast<size_t>(n * 4 * H));
    // Every layer but the last writes its sequence time-major into buffer
    // l % 2 while it reads the previous layer's; the last writes straight
    // into the output ([n, steps, H]). Either way h_t lies where the next
    // step's recurrent product reads it (rows of the n streams, `ld_b` apart)
    // -- no copy of h per step, no transposition at the end.
    for (int64_t i = 0; i < std::min<int64_t>(layers_ - 1, 2); ++i)
      grow_scratch(seq[i], static_cast<size_t>(n * steps * H));
    int64_t width = layer_[0].in;
    // Layer l's input, step t, stream b at x + t * x_step + b * x_row. With
    // one step per block (43 streams and more at the char LSTM's width) each
    // input product takes one step's rows, which the [n, steps, width] input
    // holds steps * width apart; one stream's steps are contiguous: both read
    // in place. Blocks of several steps of several streams need their rows
    // contiguous: the input goes time-major first.
    const float* x = input + s0 * steps * width;
    int64_t x_step = width, x_row = n == 1 ? width : steps * width;
    if (block > 1 && n > 1) {
      grow_scratch(x_tm, static_cast<size_t>(n * steps * width));
      for (int64_t b = 0; b < n; ++b)
        for (int64_t t = 0; t < steps; ++t)
          std::memcpy(x_tm.data() + (t * n + b) * width, x + b * x_row + t * x_step, static_cast<size_t>(width) * 4);
      x = x_tm.data();
      x_step = n * width, x_row = width;
    }
    for (int64_t l = 0; l < layers_; ++l) {
      const Layer& L = layer_[static_cast<size_t>(l)];
      float* h0 = st.h[static_cast<size_t>(l)].data() + s0 * H;
      float* c = st.c[static_cast<size_t>(l)].data() + s0 * H;
      const bool last = l + 1 == layers_;
      // h_t of stream b at y + b * ld_b + t * ld_t.
      float* y = last ? output + s0 * steps * H : seq[l % 2].data();
      const int64_t ld_b = last ? steps * H : H, ld_t = last ? H : n * H;
      for (int64_t t0 = 0; t0 < steps; t0 += block) {
        // Input contributions of steps [t0, t1): [(t1 - t0) * n, 4H].
        const int64_t t1 = std::min(steps, t0 + block), rows = (t1 - t0) * n;
        const float* xb = x + t0 * x_step;
        if (L.e_ih.ready())
          L.e_ih.run(xb, rows, x_row, xw.data(), 4 * H, ctx);
        else if (L.q_ih.ready())
          L.q_ih.run(xb, rows, x_row, xw.data(), 4 * H, ctx);
        else
          gemm_f32(xb, rows, x_row, float_weights()[static_cast<size_t>(l)].ih, L.bias.data(), xw.data(), 4 * H,
                   ctx.ex);
        for (int64_t t = t0; t < t1; ++t) {
          const float* h = t == 0 ? h0 : y + (t - 1) * ld_t;
          const int64_t ldh = t == 0 ? H : ld_b;
          // (Pointers, not the thread_local vectors: named inside a lambda
          // running on another thread, those would be that thread's own.)
          StepCells step{xw.data() + (t - t0) * n * 4 * H, gates.data(), c, y + t * ld_t, ld_b, H};
          if (L.q_hh.ready() && ctx.ex.threads() == 1) {
            // The cell runs on each block of rows the recurrent product's
            // epilogue has just written, while its gates are in L1.
            MatmulDest gate_rows = MatmulDest::rows(gates.data(), 4 * H);
            gate_rows.rows_done = [](void* p, int64_t r0, int64_t r1) { static_cast<StepCells*>(p)->run(r0, r1); };
            gate_rows.rows_done_ctx = &step;
            L.q_hh.run(h, n, ldh, gate_rows, Activation::kNone, ctx);
            continue;
          }
          if (L.e_hh.ready())
            L.e_hh.run(h, n, ldh, gates.data(), 4 * H, ctx);
          else if (L.q_hh.ready())
            L.q_hh.run(h, n, ldh, gates.data(), 4 * H, ctx);
          else
            gemm_f32(h, n, ldh, float_weights()[static_cast<size_t>(l)].hh, nullptr, gates.data(), 4 * H, ctx.ex);
          // Rows are independent: split them over the threads when there is
          // enough to share (each row's arithmetic is the same either way).
          if (n * H >= 4096)
            ctx.ex.parallel_for(static_cast<size_t>(n), 8, [&](size_t b0, size_t b1) {
              step.run(static_cast<int64_t>(b0), static_cast<int64_t>(b1));
            });
          else
            step.run(0, n);
        }
      }
      if (steps > 0)  // the state: h of the last step
        for (int64_t b = 0; b < n; ++b)
          std::memcpy(h0 + b * H, y + (steps - 1) * ld_t + b * ld_b, static_cast<size_t>(H) * 4);
      x = y;  // time-major, unless it was the last layer
      width = H;
      x_step = n * H, x_row = H;
    }
  }

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                const quant::RangeStats& output) override {
    plan_ = plan;
    for (Layer& L : layer_) {
      L.q_ih = L.q_hh = QuantizedMatmul();
      L.e_ih = L.e_hh = ExpMatmul();
    }
    if (!plan.quantized()) return;
    if (plan.scheme().execution() == quant::Execution::kExponent) {
      // h lies in (-1, 1); its calibration samples are the op's output
      // (the last layer's h, used for every layer).
      std::vector<float> h = output.samples();
      if (h.empty()) h = {-1.f, -0.5f, 0.f, 0.5f, 1.f};
      for (int64_t l = 0; l < layers_; ++l) {
        Layer& L = layer_[static_cast<size_t>(l)];
        L.e_ih.prepare(L.w_ih->f32(), 4 * hidden_, L.in, L.bias.data(), plan, l == 0 ? input.samples() : h);
        L.e_hh.prepare(L.w_hh->f32(), 4 * hidden_, hidden_, nullptr, plan, h);
      }
      return;
    }
    // h = o * tanh(c) lies in (-1, 1): a fixed symmetric grid needs no calibration.
    quant::LayerPlan h_plan = plan;
    h_plan.activation_symmetric = true;
    const quant::Affine h_affine = plan.scheme().activation_affine(-1.f, 1.f, h_plan);
    for (int64_t l = 0; l < layers_; ++l) {
      Layer& L = layer_[static_cast<size_t>(l)];
      quant::Affine x_affine = h_affine;
      if (l == 0) {
        const auto [lo, hi] = input.choose(plan);
        x_affine = plan.scheme().activation_affine(lo, hi, plan);
      }
      L.q_ih.prepare(L.w_ih->f32(), 4 * hidden_, L.in, L.bias.data(), l == 0 ? plan : h_plan, x_affine);
      L.q_hh.prepare(L.w_hh->f32(), 4 * hidden_, hidden_, nullptr, h_plan, h_affine);
    }
  }
  double weight_bits() const override {
    return layer_[0].e_ih.ready() ? layer_[0].e_ih.bits() : plan_.scheme().weight_bits_per_param(plan_);
  }
  const quant::LayerPlan* plan() const override { return &plan_; }

  OpCost cost(const std::vector<Shape>& in) const override {
    double macs = 0;
    int64_t params = 0, weights = 0;
    for (const Layer& L : layer_) {
      macs += static_cast<double>(4 * hidden_ * (L.in + hidden_));
      params += 4 * hidden_ * (L.in + hidden_ + 2);
      weights += 4 * hidden_ * (L.in + hidden_);
    }
    const int64_t steps = in[0].size() > 1 ? in[0][1] : 1;
    return {macs * static_cast<double>(steps), params, layer_[0].in + hidden_, 4 * hidden_ * steps, weights};
  }
  std::vector<GemmShape> gemms(const std::vector<Shape>& in) const override {
    // Per step and layer the four gates are one product of [x_t, h_{t-1}]
    // with the stacked weights; steps wait for each other (h_{t-1}). Term
    // groups count as runs over the whole [x, h] row: exact when the group
    // size divides the input width (the op groups x and h separately).
    const int64_t steps = in[0].size() > 1 ? in[0][1] : 1;
    std::vector<GemmShape> out;
    for (const Layer& L : layer_) out.push_back({1, 4 * hidden_, L.in + hidden_, steps});
    return out;
  }
  int64_t weight_bytes() const override {
    int64_t params = 0;
    for (const Layer& L : layer_) params += L.w_ih->size() + L.w_hh->size();
    return static_cast<int64_t>(std::ceil(static_cast<double>(params) * weight_bits() / 8));
  }

  void prepare_to_run() override {
    if (!layer_[0].q_ih.ready() && !layer_[0].e_ih.ready()) float_weights();
    else packed_.reset();
  }
  void release_reference_weights() override {
    for (auto& L : layer_) {
      L.q_ih.release_reference_weights();
      L.q_hh.release_reference_weights();
    }
  }

  std::string kernel() const override {
    if (layer_.empty()) return {};
    if (layer_[0].q_ih.ready()) return layer_[0].q_ih.kernel();
    return layer_[0].e_ih.ready() ? "exponent" : "";
  }

 private:
  struct Layer {
    std::shared_ptr<const Tensor> w_ih, w_hh;
    std::vector<float> bias;  // bias_ih + bias_hh
    int64_t in = 0;
    QuantizedMatmul q_ih, q_hh;
    ExpMatmul e_ih, e_hh;
  };
  struct FloatWeights {
    PackedF32 ih, hh;
  };
  // The float path's weights per layer, packed when first needed.
  const std::vector<FloatWeights>& float_weights() const {
    return packed_.get([&] {
      std::vector<FloatWeights> p;
      for (const Layer& L : layer_)
        p.push_back({PackedF32::pack(L.w_ih->f32(), 4 * hidden_, L.in),
                     PackedF32::pack(L.w_hh->f32(), 4 * hidden_, hidden_)});
      return p;
    });
  }

  std::string where_;
  int64_t hidden_ = 0, layers_ = 1;
  bool stateful_ = false;
  std::vector<Layer> layer_;
  Lazy<std::vector<FloatWeights>> packed_;
  quant::LayerPlan plan_;
};

}  // namespace

std::unique_ptr<Op> make_lstm(OpBuilder& b) { return std::make_unique<Lstm>(b); }

}  // namespace bitlane::ops
