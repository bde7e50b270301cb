// bitlane estimate on the command line: the totals equal the library's
// estimate, options are validated, and sweep's cycle column agrees.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "runtime/estimate/estimate.h"
#include "runtime/model.h"
#include "tests/apps/cli_helpers.h"
#include "tests/test_paths.h"

using namespace bitlane;
using namespace bitlane::test;

TEST_CASE("estimate: the CLI reports the library's cycles for every dataflow and PE") {
  const auto model = Model::load(model_path("mlp"));
  struct Case {
    const char* args;
    estimate::Dataflow dataflow;
    estimate::UniformPe pe;
    int64_t rows, cols, batch;
    const char* plan;
  };
  const Case cases[] = {
      {"--quant 8", estimate::Dataflow::kWeightStationary, estimate::UniformPe::kBitParallel, 64, 128, 1, "8"},
      {"--quant w4a6 --pe bit-serial --dataflow os --array 32x32 --batch 16", estimate::Dataflow::kOutputStationary,
       estimate::UniformPe::kBitSerial, 32, 32, 16, "w4a6"},
      {"--quant scheme=term,w4a6,g=16,k=10 --dataflow is", estimate::Dataflow::kInputStationary,
       estimate::UniformPe::kBitParallel, 64, 128, 1, "scheme=term,w4a6,g=16,k=10"},
  };
  for (const Case& c : cases) {
    const Result r = cli("estimate " + kMlp + " --json --clock 1GHz " + c.args);
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.out);
    estimate::EstimateOptions o;
    o.array = {c.rows, c.cols, 1e9, c.dataflow};
    o.uniform_pe = c.pe;
    o.batch = c.batch;
    const auto want = estimate::estimate(*model, quant::QuantPlan::from_text(c.plan, {}), o);
    INFO(c.args);
    CHECK(j["cycles"].get<double>() == doctest::Approx(want.cycles));
    CHECK(j["seconds"].get<double>() == doctest::Approx(want.cycles / 1e9));
    CHECK(j["layers"].size() == 3);
  }
}

TEST_CASE("estimate: bad options are usage errors that say what is wrong") {
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"--array 64", "--array"}, {"--array 0x8", "--array"}, {"--dataflow rs", "--dataflow"},
           {"--clock fast", "--clock"}, {"--clock -5MHz", "--clock"}, {"--pe magic", "--pe"},
           {"--energy mac=1", "unknown 'mac=1'"}, {"--batch 0", "--batch"}}) {
    const Result r = cli("estimate " + kMlp + " " + args);
    INFO(args);
    CHECK(r.status == 2);
    CHECK(r.err.find(message) != std::string::npos);
  }
}

TEST_CASE("sweep: the array cycles column is the estimate of each plan") {
  const std::string csv = "/tmp/bitlane_estimate_test_" + std::to_string(getpid()) + ".csv";
  const Result r = cli("sweep " + kMlp + " " + source_path("models/data/fashion-test.safetensors") +
                       " --limit 64 --no-timing --grid '{8,4}' --pe bit-serial --csv " + csv);
  REQUIRE(r.status == 0);
  const auto rows = parse_csv(slurp(csv));
  std::remove(csv.c_str());
  REQUIRE(rows.size() == 3);
  size_t col = 0;
  while (col < rows[0].size() && rows[0][col] != "array_cycles") ++col;
  REQUIRE(col < rows[0].size());
  const auto model = Model::load(model_path("mlp"));
  estimate::EstimateOptions o;
  o.uniform_pe = estimate::UniformPe::kBitSerial;
  CHECK(std::stod(rows[1][col]) ==
        doctest::Approx(estimate::estimate(*model, quant::QuantPlan::from_text("8", {}), o).cycles));
  CHECK(std::stod(rows[2][col]) ==
        doctest::Approx(estimate::estimate(*model, quant::QuantPlan::from_text("4", {}), o).cycles));
}
