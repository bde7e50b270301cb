#include "apps/sweep_plot.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace bitlane::cli {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

struct Range {
  double lo, hi;
};

// Log range covering the positive values, padded to whole decades' halves.
Range log_range(const std::vector<double>& v) {
  double lo = 1e300, hi = 0;
  for (double x : v)
    if (x > 0) lo = std::min(lo, x), hi = std::max(hi, x);
  if (hi == 0) return {0, 1};
  return {std::floor(std::log10(lo) * 2) / 2, std::ceil(std::log10(hi) * 2 + 1e-9) / 2 + (lo == hi ? 0.5 : 0)};
}

Range linear_range(const std::vector<double>& v, bool higher_is_better, double focus) {
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double lo = *mn, hi = *mx;
  if (higher_is_better)
    lo = std::max(lo, hi - focus);
  else
    hi = std::min(hi, lo + focus);
  if (hi - lo < 1e-9) lo -= 1, hi += 1;
  const double pad = (hi - lo) * 0.05;
  return {lo - pad, hi + pad};
}

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                          "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

void panel(std::FILE* out, double x0, double y0, double w, double h, const std::string& xlabel,
           const std::string& ylabel, const std::vector<PlotPoint>& points, bool by_pairs,
           const std::map<std::string, int>& colour, bool higher_is_better, double focus) {
  std::vector<double> xs, ys;
  for (const PlotPoint& p : points) {
    xs.push_back(by_pairs ? p.pairs : p.bytes);
    ys.push_back(p.metric);
  }
  const Range rx = log_range(xs), ry = linear_range(ys, higher_is_better, focus);
  auto px = [&](double x) { return x0 + (std::log10(x) - rx.lo) / (rx.hi - rx.lo) * w; };
  auto py = [&](double y) { return y0 + h - (y - ry.lo) / (ry.hi - ry.lo) * h; };
  std::fprintf(out, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#444'/>\n", x0, y0, w, h);
  for (double e = std::ceil(rx.lo); e <= rx.hi + 1e-9; e += 1) {  // decades
    const double x = px(std::pow(10, e));
    std::fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n", x, y0, x, y0 + h);
    std::fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='11'>1e%d</text>\n", x, y0 + h + 14,
                 static_cast<int>(e));
  }
  for (int i = 0; i <= 5; ++i) {
    const double v = ry.lo + (ry.hi - ry.lo) * i / 5, y = py(v);
    std::fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#eee'/>\n", x0, y, x0 + w, y);
    std::fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end' font-size='11'>%.3g</text>\n", x0 - 4, y + 4, v);
  }
  std::fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='12'>%s</text>\n", x0 + w / 2,
               y0 + h + 32, escape(xlabel).c_str());
  std::fprintf(out,
               "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='12' transform='rotate(-90 %.1f %.1f)'>%s</text>\n",
               x0 - 44, y0 + h / 2, x0 - 44, y0 + h / 2, escape(ylabel).c_str());
  // Each family's points joined in x order: its trade-off curve.
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
  for (const PlotPoint& p : points) {
    const double x = by_pairs ? p.pairs : p.bytes;
    if (x <= 0) continue;  // fp32 has no term pairs
    const double y = std::clamp(p.metric, ry.lo, ry.hi);
    curves[p.family].push_back({px(x), py(y)});
    const char* c = kColours[colour.at(p.family) % 10];
    const bool clipped = y != p.metric;
    std::fprintf(out, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s' stroke='%s' fill-opacity='0.8'><title>%s: %.4g</title></circle>\n",
                 px(x), py(y), clipped ? "none" : c, c, escape(p.label).c_str(), p.metric);
  }
  for (auto& [family, pts] : curves) {
    std::sort(pts.begin(), pts.end());
    std::fprintf(out, "<polyline fill='none' stroke='%s' stroke-opacity='0.4' points='", kColours[colour.at(family) % 10]);
    for (const auto& [x, y] : pts) std::fprintf(out, "%.1f,%.1f ", x, y);
    std::fprintf(out, "'/>\n");
  }
}

}  // namespace

void write_sweep_svg(std::FILE* out, const std::string& title, const std::string& metric,
                     const std::vector<PlotPoint>& points, bool higher_is_better, double focus) {
  std::map<std::string, int> colour;
  std::vector<std::string> families;
  for (const PlotPoint& p : points)
    if (colour.emplace(p.family, static_cast<int>(families.size())).second) families.push_back(p.family);
  const double w = 400, h = 300, top = 50, left = 70, gap = 110;
  std::fprintf(out,
               "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' font-family='sans-serif'>\n"
               "<rect width='100%%' height='100%%' fill='white'/>\n"
               "<text x='%.1f' y='24' text-anchor='middle' font-size='15'>%s</text>\n",
               left + 2 * w + gap + 160, top + h + 60, left + w + gap / 2, escape(title).c_str());
  if (points.empty()) {
    std::fprintf(out, "</svg>\n");
    return;
  }
  panel(out, left, top, w, h, "term pairs per item (log)", metric, points, true, colour, higher_is_better, focus);
  panel(out, left + w + gap, top, w, h, "model bytes (log)", metric, points, false, colour, higher_is_better, focus);
  const double lx = left + 2 * w + gap + 16;
  for (size_t i = 0; i < families.size(); ++i) {
    const double y = top + 10 + 18 * static_cast<double>(i);
    std::fprintf(out, "<circle cx='%.1f' cy='%.1f' r='5' fill='%s'/>\n", lx, y, kColours[i % 10]);
    std::fprintf(out, "<text x='%.1f' y='%.1f' font-size='12'>%s</text>\n", lx + 10, y + 4,
                 escape(families[i]).c_str());
  }
  std::fprintf(out, "</svg>\n");
}

}  // namespace bitlane::cli
