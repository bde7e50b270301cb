#include "apps/image_batch.h"

#include <cstring>
#include <span>

#include "runtime/image/image.h"

namespace bitlane::cli {

void decode_batch(const std::vector<InputFile>& files, size_t b0, size_t b1,
                  const InputSpec& spec, const Executor& ex, DecodedBatch& out) {
  const Preprocessing& pre = *spec.preprocessing;
  const int64_t channels = pre.color == "gray" ? 1 : 3;
  const size_t per_image = static_cast<size_t>(channels * pre.height * pre.width);
  const size_t n = b1 - b0;
  // Each image is preprocessed straight into its row of the input tensor;
  // rows of files that failed are squeezed out afterwards (Tensor::resize
  // keeps the contents when it shrinks).
  Shape shape{static_cast<int64_t>(n)};
  shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());  // [C, H, W] or [C*H*W] (the model checked)
  Tensor& input = out.inputs[0];
  input.resize(shape);
  float* rows = input.f32();
  out.errors.assign(n, std::string());
  out.reader.read(files, b0, b1, out.bytes, out.got);
  ex.parallel_for(n, 1, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const std::string& path = files[b0 + i].path;
      try {
        preprocess(out.got[i] ? decode_image(std::span(out.bytes[i].data(), out.got[i]), path) : load_image(path), pre,
                   rows + i * per_image);
      } catch (const std::exception& e) {
        out.errors[i] = e.what();
      }
    }
  });
  out.ok.clear();
  for (size_t i = 0; i < n; ++i)
    if (out.errors[i].empty()) out.ok.push_back(i);
  if (out.ok.empty() || out.ok.size() == n) return;
  for (size_t j = 0; j < out.ok.size(); ++j)
    if (out.ok[j] != j) std::memmove(rows + j * per_image, rows + out.ok[j] * per_image, per_image * sizeof(float));
  shape[0] = static_cast<int64_t>(out.ok.size());
  input.resize(shape);
}

}  // namespace bitlane::cli
