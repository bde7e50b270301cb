// The bundled models end to end: quantized execution bit-exact with the
// scalar reference GEMM, identical outputs for 1 and 2 threads, and accuracy
// on the committed 1000-image subset consistent with PyTorch's accuracy on
// the full test set (recorded by the training script in model.meta.json).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "runtime/cost.h"
#include "runtime/engine.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/test_paths.h"

using namespace bitlane;

namespace {

const char* const kImageModels[] = {"mlp", "lenet", "resnet"};

// The first n rows of a batch-first tensor.
Tensor head(const Tensor& t, int64_t n) {
  Shape s = t.shape();
  s[0] = n;
  Tensor out(s, t.dtype());
  std::memcpy(out.i32(), t.i32(), static_cast<size_t>(out.size()) * 4);
  return out;
}

struct TestSet {
  Tensor images, labels;
};

const TestSet& fashion_test() {
  static const TestSet set = [] {
    const SafeTensorsFile st = SafeTensorsFile::load(test::source_path("models/data/fashion-test.safetensors"));
    TestSet s{st.read_f32(*st.find("images")), st.read_i32(*st.find("labels"))};
    for (int64_t i = 0; i < s.images.size(); ++i)  // the models' preprocessing
      s.images.f32()[i] = (s.images.f32()[i] / 255.f - 0.2860f) / 0.3530f;
    return s;
  }();
  return set;
}

std::shared_ptr<const Engine> engine_for(const std::string& name, const char* plan, bool reference,
                                         const Executor& ex, int64_t micro_batch = 0) {
  const auto model = Model::load(test::model_path(name));
  EngineOptions o;
  o.plan = quant::QuantPlan::from_text(plan, {});
  o.reference_kernels = reference;
  o.micro_batch = micro_batch;
  // Bit-exactness does not depend on how many samples calibrate the plan
  // (quick mode, under qemu: 2 images, or the LSTM's first 32 characters of
  // one sample -- the float calibration on SVE2 took most of the arm64 job).
  const int64_t samples = name == "char_lstm" ? (test::quick() ? 1 : 4) : test::quick() ? 2 : 32;
  if (o.plan->any_quantized()) {
    Tensor cal = head(load_calibration(*model)[0], samples);
    if (name == "char_lstm" && test::quick() && cal.dim(1) > 32) {
      Tensor first({1, 32}, DType::kI32);
      std::memcpy(first.i32(), cal.i32(), 32 * 4);
      cal = std::move(first);
    }
    o.calibration = {std::move(cal)};
  }
  return Engine::build(model, o, ex);
}

// Characters of the bundled WikiText-2 test text as `streams` rows of
// `steps`: by default 256 as 4 streams of 64 (quick mode: 2 streams of 16).
Tensor text_ids(int64_t streams = 0, int64_t steps = 0) {
  const auto model = Model::load(test::model_path("char_lstm"));
  std::ifstream in(test::source_path("models/data/wikitext-test.txt"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, int32_t> index;
  for (size_t i = 1; i < model->vocabulary().size(); ++i) index[model->vocabulary()[i]] = static_cast<int32_t>(i);
  Tensor ids(streams ? Shape{streams, steps} : test::quick() ? Shape{2, 16} : Shape{4, 64}, DType::kI32);
  for (int64_t i = 0; i < ids.size(); ++i) {  // ASCII text: one byte per character
    auto it = index.find(std::string(1, text[static_cast<size_t>(i)]));
    ids.i32()[i] = it == index.end() ? 0 : it->second;
  }
  return ids;
}

Tensor run(const std::shared_ptr<const Engine>& e, const Tensor& x, const Executor& ex) {
  Session s(e);
  const Tensor& y = *s.run({x}, ex)[0];
  Tensor out(y.shape());
  std::memcpy(out.f32(), y.f32(), static_cast<size_t>(y.size()) * 4);
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.f32(), b.f32(), static_cast<size_t>(a.size()) * 4) == 0;
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  int64_t correct = 0;
  const int64_t classes = logits.dim(1);
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (logits.f32()[i * classes + c] > logits.f32()[i * classes + best]) best = c;
    correct += best == labels.i32()[i];
  }
  return static_cast<double>(correct) / static_cast<double>(logits.dim(0));
}

}  // namespace

TEST_CASE("quantized models are bit-exact with the scalar reference GEMM") {
  Executor ex(1);
  const Tensor x = head(fashion_test().images, test::quick() ? 4 : 24);
  for (const char* name : kImageModels)
    for (const char* plan : {"8", "w4a8", "3", "w2a4,first=fp32", "w2a4,wclip=mse", "1", "scheme=term,w4a6,g=16,k=10,s=6",
                             "scheme=term,w4a8,g=8,k=12,s=3,enc=hese,ga=4,ka=8", "scheme=sdp,w4,sdp_g=4,sdp_k=3",
                             "scheme=drq,w4,drq_r=2,drq_t=0.3"}) {
      INFO(std::string(name) << " " << plan);
      CHECK(same_bits(run(engine_for(name, plan, false, ex), x, ex),
                      run(engine_for(name, plan, true, ex), x, ex)));
    }
}

TEST_CASE("char_lstm: quantized bit-exact with the reference, thread-count independent") {
  Executor one(1), two(2);
  // 24 streams x 192 hidden units is enough work for the cell updates of a
  // step to split over the threads (ops/lstm.cc), and 24 x 9 steps for the
  // input products to run in blocks of steps. Each plan's engines are built
  // once for both inputs: building (calibration runs the float LSTM) is most
  // of this test's time under qemu's SVE2, where it took 455 s of the arm64
  // job built per input.
  const Tensor inputs[] = {text_ids(), text_ids(24, 9)};
  for (const char* plan : {"8", "4", "w2a6", "scheme=term,w4a6,g=8,k=16,s=3,enc=hese", "scheme=sdp,w6"}) {
    const auto fast = engine_for("char_lstm", plan, false, one), reference = engine_for("char_lstm", plan, true, one);
    for (const Tensor& ids : inputs) {
      INFO(std::string(plan) << " " << shape_str(ids.shape()));
      const Tensor a = run(fast, ids, one);
      CHECK(same_bits(a, run(reference, ids, one)));
      CHECK(same_bits(a, run(fast, ids, two)));
    }
  }
}

TEST_CASE("results are identical for 1 and 2 threads") {
  Executor one(1), two(2);
  const Tensor x = head(fashion_test().images, test::quick() ? 8 : 96);
  for (const char* name : kImageModels)
    for (const char* plan : {"fp32", "w4a4"}) {
      CAPTURE(name);
      CAPTURE(plan);
      const auto engine = engine_for(name, plan, false, one);
      CHECK(same_bits(run(engine, x, one), run(engine, x, two)));
    }
}

TEST_CASE("micro-batches give the bits of whole batches, and count the same work") {
  // Whole batches run layer by layer; micro-batches (runtime/micro_batch.h)
  // run the graph per few samples, side by side on the threads: of 3
  // samples (uneven: 11 = 3 + 3 + 3 + 2), or as chosen for the cache.
  Executor one(1), two(2);
  const Tensor x = head(fashion_test().images, 11);
  for (const char* name : kImageModels)
    for (const char* plan : {"fp32", "w4a4", "1", "scheme=term,w4a6,g=16,k=10,s=6", "scheme=sdp,w4,sdp_g=4,sdp_k=3",
                             "scheme=drq,w4,drq_r=2,drq_t=0.3", "scheme=exponential,thr=0.02"}) {
      if (test::quick() && std::strcmp(plan, "w4a4") != 0 && std::strcmp(plan, "scheme=drq,w4,drq_r=2,drq_t=0.3") != 0)
        continue;
      CAPTURE(name);
      CAPTURE(plan);
      const auto whole = engine_for(name, plan, false, one, -1);
      Session ws(whole);
      ws.enable_stats();
      const Tensor want = [&] {
        const Tensor& y = *ws.run({x}, one)[0];
        Tensor out(y.shape());
        std::memcpy(out.f32(), y.f32(), static_cast<size_t>(y.size()) * 4);
        return out;
      }();
      REQUIRE(ws.last_split().count == 1);
      for (int64_t micro : {int64_t{3}, int64_t{0}})
        for (const Executor* ex : {&one, &two}) {
          CAPTURE(micro);
          CAPTURE(ex->threads());
          const auto split = engine_for(name, plan, false, one, micro);
          Session s(split);
          s.enable_stats();
          s.enable_profiling();
          const Tensor& y = *s.run({x}, *ex)[0];
          if (micro == 3) CHECK(s.last_split().count == 4);
          CHECK(y.shape() == want.shape());
          CHECK(std::memcmp(y.f32(), want.f32(), static_cast<size_t>(want.size()) * 4) == 0);
          for (size_t i = 0; i < ws.stats().size(); ++i) {
            CHECK(s.stats()[i].macs == ws.stats()[i].macs);
            CHECK(s.stats()[i].pairs == ws.stats()[i].pairs);
            CHECK(s.stats()[i].sensitive == ws.stats()[i].sensitive);
          }
          double seconds = 0;
          for (double t : s.node_seconds()) seconds += t;
          CHECK(seconds > 0);
        }
    }
}

// The committed test images (all 1000, or the first 250 in quick mode).
const TestSet& accuracy_set() {
  static const TestSet set = [] {
    const int64_t n = test::quick() ? 250 : fashion_test().images.dim(0);
    return TestSet{head(fashion_test().images, n), head(fashion_test().labels, n)};
  }();
  return set;
}

TEST_CASE("fp32 accuracy on the 1000-image subset agrees with PyTorch's full test accuracy") {
  Executor ex(2);
  const double n = static_cast<double>(accuracy_set().images.dim(0));
  for (const char* name : kImageModels) {
    std::ifstream meta(test::source_path(std::string("models/") + name + "/model.meta.json"));
    const double full = nlohmann::json::parse(meta)["pytorch_test_accuracy"].get<double>();
    const double subset = accuracy(run(engine_for(name, "fp32", false, ex), accuracy_set().images, ex),
                                   accuracy_set().labels);
    // Three standard errors of an n-sample estimate of the full accuracy.
    const double noise = 3 * std::sqrt(full * (1 - full) / n);
    INFO(name << ": subset " << subset << ", PyTorch full test set " << full);
    CHECK(std::abs(subset - full) <= noise);
  }
}

TEST_CASE("the README accuracy table is reproduced on the committed subsets") {
  // models/accuracy.json holds the full-test-set numbers of models/README.md
  // (models/scripts/accuracy_table.py: the accuracy and weight clipping
  // tables); the subset must agree within three standard errors of a
  // 1000-image estimate.
  std::ifstream in(test::source_path("models/accuracy.json"));
  const auto table = nlohmann::json::parse(in);
  Executor ex(2);
  const double n = static_cast<double>(accuracy_set().images.dim(0));
  for (const char* name : kImageModels)
    for (const char* plan : {"fp32", "8", "4", "2", "3,wclip=mse", "w2a4,wclip=mse"}) {
      const double full = table[name][plan]["top1"].get<double>();
      const auto model = Model::load(test::model_path(name));
      EngineOptions o;
      o.plan = quant::QuantPlan::from_text(plan, {});  // calibrated like the table: all 512 samples
      const double subset = accuracy(run(Engine::build(model, o, ex), accuracy_set().images, ex),
                                     accuracy_set().labels);
      const double noise = 3 * std::sqrt(std::max(full * (1 - full), 0.01) / n);
      INFO(name << " " << plan << ": subset " << subset << ", table " << full);
      CHECK(std::abs(subset - full) <= noise);
    }
}

TEST_CASE("accuracy: 2-bit weights scaled by least squared error keep the MLP and LeNet usable") {
  // Scaled to max |w|, a signed 2-bit grid is {-2, -1, 0, 1} x max |w|: most
  // weights round to 0 and the models guess (models/README.md). wclip=mse
  // (quant/uniform.cc) clips the grid; measured on the committed subset.
  Executor ex(2);
  for (const char* name : {"mlp", "lenet"}) {
    const double by_max = accuracy(run(engine_for(name, "w2a4", false, ex), accuracy_set().images, ex),
                                   accuracy_set().labels);
    const double by_mse = accuracy(run(engine_for(name, "w2a4,wclip=mse", false, ex), accuracy_set().images, ex),
                                   accuracy_set().labels);
    INFO(name << ": w2a4 top-1 " << by_max << " with max scaling, " << by_mse << " with wclip=mse");
    CHECK(by_max < 0.4);
    CHECK(by_mse > 0.7);
  }
}

TEST_CASE("exponential layers: the exponent-domain path agrees with the decoded path") {
  Executor ex(1);
  const Tensor x = head(fashion_test().images, 16);
  for (const char* name : {"mlp", "lenet"}) {
    const Tensor decoded = run(engine_for(name, "scheme=exponential,thr=0.02", false, ex), x, ex);
    const Tensor histogram = run(engine_for(name, "scheme=exponential,thr=0.02,path=histogram", false, ex), x, ex);
    REQUIRE(decoded.shape() == histogram.shape());
    for (int64_t i = 0; i < decoded.size(); ++i)
      REQUIRE(histogram.f32()[i] == doctest::Approx(decoded.f32()[i]).epsilon(1e-4).scale(1.0));
  }
}

TEST_CASE("measured term pairs cover every quantized layer, convolutions included") {
  // Regression: conv2d dropped the session's counters when it split a batch
  // into chunks, so sweeps reported kept pairs of the dense layers only.
  Executor ex(2);
  for (const char* name : {"lenet", "resnet"}) {
    INFO(name);
    const auto engine = engine_for(name, "w4a6", false, ex);
    Session session(engine);
    session.enable_stats();
    (void)session.run({head(fashion_test().images, 4)}, ex);
    const ModelCost cost = model_cost(*engine, &session.stats());
    int convs = 0;
    for (const LayerCost& l : cost.layers) {
      if (!l.quantizable || !l.plan.quantized()) continue;
      INFO("layer " << l.name);
      convs += l.op == "conv2d";
      // Binary terms: 1..4 per 4-bit weight, 1..6 per 6-bit activation, and
      // zeros have none: kept pairs per MAC lie in (0, 4 x 6].
      CHECK(l.kept_pairs > 0);
      CHECK(l.kept_pairs <= l.shape.macs * 4 * 6);
    }
    CHECK(convs >= 2);
  }
}
