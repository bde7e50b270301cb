#include <cstdint>
#include <stdexcept>
#include <vector>

#include "peers.h"

#if BITLANE_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#if BITLANE_HAVE_OPENMP
#include <omp.h>
#endif

namespace bitlane::bench {
namespace {

class OneDnnInt8 : public GemmPeer {
 public:
  explicit OneDnnInt8(std::string isa) : isa_(std::move(isa)) {
    // oneDNN takes one cap per process, before its first primitive.
    static bool capped = false;
    if (!capped && isa_ != "default") {
      if (isa_ == "vnni") dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_vnni);
      else if (isa_ == "avx2") dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
      else if (isa_ == "avx2_vnni") dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2_vnni);
      else throw std::invalid_argument("--onednn-isa: expected vnni, avx2, avx2_vnni or default, got '" + isa_ + "'");
      capped = true;
    }
  }
  std::string name() const override { return isa_ == "vnni" ? "onednn_int8" : "onednn_int8_" + isa_; }

  void setup(int m, int k, int n, int threads) override {
#if BITLANE_HAVE_OPENMP
    omp_set_num_threads(threads);
#endif
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::memory::desc a_md({m, k}, dt::u8, tag::ab), b_md({k, n}, dt::s8, tag::any),
        c_md({m, n}, dt::s32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine_);
    impl_ = pd.impl_info_str();
    a_ = dnnl::memory(a_md, engine_);
    c_ = dnnl::memory(c_md, engine_);
    // Weights in oneDNN's preferred (blocked) layout, reordered once like a
    // real deployment would.
    dnnl::memory b_plain({{k, n}, dt::s8, tag::ab}, engine_);
    auto* pb = static_cast<int8_t*>(b_plain.get_data_handle());
    for (int i = 0; i < k * n; ++i) pb[i] = static_cast<int8_t>((i * 7) % 15 - 7);
    auto* pa = static_cast<uint8_t*>(a_.get_data_handle());
    for (int i = 0; i < m * k; ++i) pa[i] = static_cast<uint8_t>((i * 5) % 200);
    b_ = dnnl::memory(pd.weights_desc(), engine_);
    dnnl::reorder(b_plain, b_).execute(stream_, b_plain, b_);
    stream_.wait();
    prim_ = dnnl::matmul(pd);
  }

  void run() override {
    prim_.execute(stream_, {{DNNL_ARG_SRC, a_}, {DNNL_ARG_WEIGHTS, b_}, {DNNL_ARG_DST, c_}});
    stream_.wait();
  }

  const std::string& impl() const { return impl_; }

 private:
  std::string isa_, impl_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  dnnl::memory a_, b_, c_;
  dnnl::matmul prim_;
};

}  // namespace

std::unique_ptr<GemmPeer> make_onednn_int8(const std::string& isa) {
  return std::make_unique<OneDnnInt8>(isa);
}

}  // namespace bitlane::bench

#else

namespace bitlane::bench {
std::unique_ptr<GemmPeer> make_onednn_int8(const std::string&) { return nullptr; }
}  // namespace bitlane::bench

#endif
