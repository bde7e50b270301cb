// The sweep's plot: the metric against term pairs and against model size,
// one SVG with two panels (log-scale x), one colour per scheme family.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace bitlane::cli {

struct PlotPoint {
  std::string family;  // legend entry and colour ("uniform", "term hese", ...)
  std::string label;   // tooltip
  double pairs = 0, bytes = 0, metric = 0;
};

// `metric` names the y axis ("top-1 accuracy (%)", "bits per character").
// The y axis spans at most `focus` from the best value so that collapsed
// plans (2-bit at 15%) do not squash the interesting ones; those are drawn
// as hollow markers on the edge.
void write_sweep_svg(std::FILE* out, const std::string& title, const std::string& metric,
                     const std::vector<PlotPoint>& points, bool higher_is_better, double focus);

}  // namespace bitlane::cli
