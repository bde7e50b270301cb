// The model loader with all its validation: JSON graph text, then a NUL
// byte, then the bytes of its .safetensors weights. A model that loads is
// also built into an fp32 engine and run once on zeros, so what validation
// lets through must also execute.
#include <cstring>

#include "core/executor.h"
#include "fuzz/fuzz_common.h"
#include "runtime/engine.h"
#include "runtime/model.h"
#include "runtime/session.h"

BITLANE_FUZZ_TARGET(model) {
  using namespace bitlane;
  fuzz::small_limits();
  fuzz::Split in = fuzz::split_at_nul(data, size);
  fuzz::expect_clean([&] {
    const auto model = Model::parse(in.text, std::move(in.bytes), "fuzz-model.json");
    Executor ex(1);
    EngineOptions o;
    o.plan = quant::QuantPlan::from_text("fp32", {});
    const auto engine = Engine::build(model, o, ex);
    std::vector<Tensor> inputs;
    for (const InputSpec& spec : model->inputs()) {
      Shape s{1};
      uint64_t n = 1;
      for (int64_t d : spec.shape) {
        const int64_t dim = d < 0 ? 4 : d;  // a free axis (sequences): a few steps
        s.push_back(dim);
        n *= static_cast<uint64_t>(dim);
      }
      if (n > (1u << 16)) return;  // large inputs only slow the fuzzer down
      inputs.emplace_back(s, spec.dtype);  // zeros (token id 0 is valid)
    }
    Session session(engine);
    (void)session.run(inputs, ex);
  });
  return 0;
}
