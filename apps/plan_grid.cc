#include "apps/plan_grid.h"

#include "apps/cli_common.h"

namespace bitlane::cli {
namespace {

// The position of the '}' closing the '{' at `open`, or npos.
size_t closing_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// The comma-separated alternatives inside one brace pair (top level only).
std::vector<std::string> alternatives(const std::string& body) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    if (i == body.size() || (body[i] == ',' && depth == 0)) {
      out.push_back(body.substr(start, i - start));
      start = i + 1;
    } else if (body[i] == '{') {
      ++depth;
    } else if (body[i] == '}') {
      --depth;
    }
  }
  return out;
}

void expand_into(const std::string& s, std::vector<std::string>& out, size_t max_items,
                 const std::string& whole) {
  const size_t open = s.find('{');
  if (open == std::string::npos) {
    if (s.find('}') != std::string::npos) throw UsageError("'" + whole + "': '}' without '{'");
    if (out.size() >= max_items)
      throw UsageError("'" + whole + "' expands to more than " + std::to_string(max_items) + " plans");
    out.push_back(s);
    return;
  }
  const size_t close = closing_brace(s, open);
  if (close == std::string::npos) throw UsageError("'" + whole + "': '{' without '}'");
  const std::string head = s.substr(0, open), tail = s.substr(close + 1);
  if (head.find('}') != std::string::npos) throw UsageError("'" + whole + "': '}' without '{'");
  for (const std::string& alt : alternatives(s.substr(open + 1, close - open - 1)))
    expand_into(head + alt + tail, out, max_items, whole);
}

}  // namespace

std::vector<std::string> expand_braces(const std::string& spec, size_t max_items) {
  std::vector<std::string> out;
  expand_into(spec, out, max_items, spec);
  return out;
}

std::vector<std::string> preset_names() { return {"standard", "quick"}; }

std::vector<std::string> preset_grid(const std::string& name) {
  // The comparison of models/README.md: uniform widths, and with 6-bit data
  // (the papers' baseline); term quantization
  // with 4-bit weights and 6-bit data (the term-revealing paper's MLP
  // setting) in both encodings, per value (g=1) and per group of 8 and 16
  // over a range of budgets; DNA-TEQ at three error thresholds; SDP keeping
  // 2..6 of 8 nibbles per group of 4; DRQ-style 8/4-bit regions.
  static const char* kStandard[] = {
      "fp32",
      "{8,6,4,3,2}",
      "w{4,3,2}a6",
      "scheme=term,w4a6,s=6,enc={binary,hese},g=1,k={1,2,3}",
      "scheme=term,w4a6,s=6,enc={binary,hese},g=8,k={3,4,6,8,12,16}",
      "scheme=term,w4a6,s=6,enc={binary,hese},g=16,k={6,8,10,12,16,24,32}",
      "scheme=exponential,thr={0.003,0.01,0.03}",
      "scheme=sdp,w8a8,sdp_g=4,sdp_k={2,3,4,5,6}",
      "scheme=drq,w8a8",
  };
  static const char* kQuick[] = {
      "fp32",
      "{8,4,2}",
      "scheme=term,w4a6,s=6,enc={binary,hese},g=16,k={6,10}",
      "scheme=exponential",
      "scheme=sdp,w8a8,sdp_g=4,sdp_k=4",
      "scheme=drq,w8a8",
  };
  std::vector<std::string> out;
  auto add = [&](const auto& list) {
    for (const char* spec : list)
      for (std::string& s : expand_braces(spec)) out.push_back(std::move(s));
  };
  if (name == "standard") add(kStandard);
  if (name == "quick") add(kQuick);
  return out;
}

std::vector<std::string> take_repeated(int& argc, char** argv, const std::string& name) {
  std::vector<std::string> values;
  const std::string flag = "--" + name, with_eq = flag + "=";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == flag) {
      if (i + 1 >= argc) throw UsageError(flag + " needs a value");
      values.push_back(argv[++i]);
    } else if (a.rfind(with_eq, 0) == 0) {
      values.push_back(a.substr(with_eq.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return values;
}

}  // namespace bitlane::cli
