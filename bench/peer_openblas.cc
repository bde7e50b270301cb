#include <vector>

#include "peers.h"

#if BITLANE_HAVE_OPENBLAS
#include <cblas.h>

extern "C" void openblas_set_num_threads(int);

namespace bitlane::bench {
namespace {

class OpenBlasSgemm : public GemmPeer {
 public:
  std::string name() const override { return "openblas_sgemm"; }
  void setup(int m, int k, int n, int threads) override {
    openblas_set_num_threads(threads);
    m_ = m;
    k_ = k;
    n_ = n;
    a_.assign(static_cast<size_t>(m) * k, 0.5f);
    b_.assign(static_cast<size_t>(k) * n, 0.25f);
    c_.assign(static_cast<size_t>(m) * n, 0.f);
  }
  void run() override {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m_, n_, k_, 1.f, a_.data(), k_,
                b_.data(), n_, 0.f, c_.data(), n_);
  }

 private:
  int m_ = 0, k_ = 0, n_ = 0;
  std::vector<float> a_, b_, c_;
};

}  // namespace

std::unique_ptr<GemmPeer> make_openblas_sgemm() { return std::make_unique<OpenBlasSgemm>(); }

}  // namespace bitlane::bench

#else

namespace bitlane::bench {
std::unique_ptr<GemmPeer> make_openblas_sgemm() { return nullptr; }
}  // namespace bitlane::bench

#endif
