// Quantizers fixed by training (quantization-aware training exported as
// ONNX QuantizeLinear/DequantizeLinear pairs or QONNX Quant / BipolarQuant
// nodes, imported by apps/onnx_import): a uniform plan that carries them
// uses these grids instead of calibrating activations or scaling weights by
// their range, so the network runs on the grid it was trained for.
//
//   x = scale * (q - zero_point),  q in [qmin, qmax] of the layer's bits:
//   signed [-2^(b-1), 2^(b-1) - 1], unsigned [0, 2^b - 1]; `narrow` drops
//   the lowest level (signed) or the highest (unsigned); binary: q in {0, 1}
//   means -scale / +scale (QONNX BipolarQuant).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitlane::quant {

struct Affine;  // quant/uniform.h

struct TrainedGrid {
  std::vector<float> scale;          // one (per tensor) or one per output channel (weights)
  std::vector<int32_t> zero_point;   // empty (all 0), or as many as scale
  bool is_signed = true, narrow = false, binary = false;
  bool operator==(const TrainedGrid&) const = default;

  // The grid of row r (an output channel; any r for a per-tensor grid) at `bits`.
  Affine affine(int bits, size_t r = 0) const;
  // Checks the values against `bits` and, for weights, the row count (0:
  // not known yet); errors name `where`.
  void check(int bits, const std::string& where) const;
  void check_rows(int64_t rows, const std::string& where) const;
};

// JSON: {"scale": number or list, "zero_point": integer or list (0),
// "signed": bool (true), "narrow": bool (false), "binary": bool (false)}.
TrainedGrid trained_grid_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json trained_grid_json(const TrainedGrid& g);

}  // namespace bitlane::quant
