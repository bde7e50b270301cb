// bitlane sweep and the cost model behind it: grids expand as documented,
// bad plans fail before any work, the table's accuracy equals bitlane eval's,
// the papers' term pairs follow the hand-worked formulas for the bundled MLP
// (784-512-512-10), and the kept pairs never exceed them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/apps/cli_helpers.h"
#include "tests/test_paths.h"

using namespace bitlane::test;

namespace {

const std::string kFashion = source_path("models/data/fashion-test.safetensors");
// MACs per image of the MLP: 784 x 512 + 512 x 512 + 512 x 10.
constexpr double kMlpMacs = 784.0 * 512 + 512.0 * 512 + 512.0 * 10;

std::string tmp(const std::string& suffix) {
  return "/tmp/bitlane_sweep_test_" + std::to_string(getpid()) + suffix;
}

}  // namespace

TEST_CASE("sweep: braces expand to every combination, with the papers' term pairs") {
  const Result r = cli("sweep " + kMlp + " --dry-run --grid '{8,4}' "
                       "--grid 'scheme=term,w4a6,s=6,enc={binary,hese},g={8,16},k={6,10}'");
  REQUIRE(r.status == 0);
  std::vector<std::vector<std::string>> rows;  // markdown table cells, split at '|'
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    rows.emplace_back();
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '|');) rows.back().push_back(cell);
  }
  REQUIRE(rows.size() == 2 + 2 + 8);  // header, rule, 2 uniform, 2 x 2 x 2 term
  CHECK(rows[2][1] == " 8 ");
  CHECK(rows[3][1] == " 4 ");
  CHECK(rows[4][1] == " scheme=term,w4a6,s=6,enc=binary,g=8,k=6 ");
  CHECK(rows[11][1] == " scheme=term,w4a6,s=6,enc=hese,g=16,k=10 ");
  // uniform: MACs x b_w x b_x; term: MACs x k / g x s.
  CHECK(std::stod(rows[2][3]) == doctest::Approx(kMlpMacs * 64).epsilon(1e-3));
  CHECK(std::stod(rows[3][3]) == doctest::Approx(kMlpMacs * 16).epsilon(1e-3));
  CHECK(std::stod(rows[4][3]) == doctest::Approx(kMlpMacs * 6.0 / 8 * 6).epsilon(1e-3));
  CHECK(std::stod(rows[11][3]) == doctest::Approx(kMlpMacs * 10.0 / 16 * 6).epsilon(1e-3));
}

TEST_CASE("sweep: bad grids and plans fail before any evaluation") {
  const Result open = cli("sweep " + kMlp + " " + kFashion + " --grid '{8,4'");
  CHECK(open.status == 2);
  CHECK(open.err.find("'{' without '}'") != std::string::npos);
  const Result close = cli("sweep " + kMlp + " " + kFashion + " --grid '8}'");
  CHECK(close.status == 2);
  // The second plan is bad: nothing is evaluated, no table printed.
  const Result bad = cli("sweep " + kMlp + " " + kFashion + " --grid 8 --grid 'scheme=term,k={10,-1}'");
  CHECK(bad.status == 2);  // a usage error, naming the option
  CHECK(bad.out.empty());
  CHECK(bad.err.find("--grid: plan 'scheme=term,k=-1': 'budget': must be 0..4096, got -1") != std::string::npos);
  // What bash makes of an unquoted brace, two words: not silently ignored.
  const Result split = cli("sweep " + kMlp + " " + kFashion + " --grid scheme=sdp,sdp_k=2 scheme=sdp,sdp_k=4 --no-timing");
  CHECK(split.status == 2);
  CHECK(split.err.find("unexpected argument") != std::string::npos);
  const Result missing = cli("sweep " + kMlp + " /nonexistent/data --grid 8 --no-timing");
  CHECK(missing.status == 1);
  CHECK(missing.err.find("/nonexistent/data") != std::string::npos);
}

TEST_CASE("sweep: accuracy equals bitlane eval, kept pairs stay within the budget, files are written") {
  const std::string csv = tmp(".csv"), json = tmp(".json"), svg = tmp(".svg");
  const Result r = cli("sweep " + kMlp + " " + kFashion + " --limit 200 --no-timing --threads 2 --grid '{8,4}' "
                       "--grid 'scheme=term,w4a6,s=6,g=16,k=10' --csv " + csv + " --json " + json + " --plot " + svg);
  REQUIRE(r.status == 0);
  const auto rows = parse_csv(slurp(csv));
  REQUIRE(rows.size() == 4);
  const auto& head = rows[0];
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < head.size(); ++i)
      if (head[i] == name) return i;
    FAIL("no column " << name);
    return size_t{0};
  };
  const double budgets[] = {64, 16, 10.0 / 16 * 6};
  for (size_t i = 1; i < rows.size(); ++i) {
    INFO(rows[i][0]);
    CHECK(rows[i][col("samples")] == "200");
    CHECK(std::stod(rows[i][col("term_pairs")]) == doctest::Approx(kMlpMacs * budgets[i - 1]).epsilon(1e-6));
    // Kept pairs count the terms really present: at most the budget.
    const double kept = std::stod(rows[i][col("kept_term_pairs")]);
    CHECK(kept > 0);
    CHECK(kept <= std::stod(rows[i][col("term_pairs")]));
  }
  // Term weights with k = 10 of 16: the list (10 x 8 bits / 16 = 5) or 4 bits
  // + sign, both 5 bits per weight.
  CHECK(std::stod(rows[3][col("weight_bits")]) == doctest::Approx(5.0));
  for (const char* plan : {"8", "4"}) {
    const Result e = cli("eval " + kMlp + " " + kFashion + " --limit 200 --json --quant " + plan);
    REQUIRE(e.status == 0);
    const double top1 = nlohmann::json::parse(e.out)["top1"].get<double>();
    CHECK(std::stod(rows[plan[0] == '8' ? 1 : 2][col("top1")]) == doctest::Approx(top1).epsilon(1e-4));
  }
  const auto j = nlohmann::json::parse(slurp(json));
  REQUIRE(j["rows"].size() == 3);
  CHECK(j["rows"][2]["layers"].size() == 3);  // fc1, fc2, fc3
  const std::string plot = slurp(svg);
  CHECK(plot.rfind("<svg", 0) == 0);
  CHECK(plot.find("</svg>") != std::string::npos);
  size_t circles = 0;
  for (size_t p = plot.find("<circle"); p != std::string::npos; p = plot.find("<circle", p + 1)) ++circles;
  CHECK(circles == 3 * 2 + 2);  // each plan in both panels, a legend entry per family
  for (const auto& f : {csv, json, svg}) std::remove(f.c_str());
}

TEST_CASE("sweep: text models report bits per character as bitlane eval does") {
  const std::string model = std::string(BITLANE_MODELS_DIR) + "/char_lstm";
  const std::string text = source_path("models/data/wikitext-test.txt");
  const std::string csv = tmp("_text.csv");
  const Result r = cli("sweep " + model + " " + text + " --limit 3000 --no-timing --grid 4 --csv " + csv);
  REQUIRE(r.status == 0);
  const auto rows = parse_csv(slurp(csv));
  REQUIRE(rows.size() == 2);
  const Result e = cli("eval " + model + " " + text + " --limit 3000 --json --quant 4");
  REQUIRE(e.status == 0);
  CHECK(std::stod(rows[1][3]) ==
        doctest::Approx(nlohmann::json::parse(e.out)["bits_per_character"].get<double>()).epsilon(1e-4));
  std::remove(csv.c_str());
}

TEST_CASE("sweep: min/max plans over the same layers share one calibration cache entry, same table") {
  const std::string dir = "/tmp/bitlane_sweep_test_" + std::to_string(getpid()) + "_cache";
  std::filesystem::remove_all(dir);
  const std::string args = "sweep " + kMlp + " " + kFashion + " --limit 100 --no-timing --grid '{8,4,2}' --csv ";
  const Result off = cli(args + dir + ".off.csv --calibration-cache off");
  const Result cold = cli(args + dir + ".cold.csv --calibration-cache " + dir);
  const Result warm = cli(args + dir + ".warm.csv --calibration-cache " + dir);
  REQUIRE(off.status == 0);
  REQUIRE(cold.status == 0);
  REQUIRE(warm.status == 0);
  // Every column but the last (eval_seconds: wall time).
  auto table = [](const std::string& path) {
    std::string out, line;
    std::stringstream in(slurp(path));
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  CHECK(table(dir + ".off.csv").find("\n2,uniform w2a2") != std::string::npos);
  CHECK(table(dir + ".cold.csv") == table(dir + ".off.csv"));
  CHECK(table(dir + ".warm.csv") == table(dir + ".off.csv"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
  for (const char* f : {".off.csv", ".cold.csv", ".warm.csv"}) std::remove((dir + f).c_str());
}
