// Parallel decoding of a batch of image files into model input slots
// (shared by run and eval).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/file_batch.h"
#include "core/executor.h"
#include "runtime/model.h"
#include "core/tensor.h"

namespace bitlane::cli {

struct DecodedBatch {
  std::vector<std::string> errors;  // per file: empty, or the reason it failed
  std::vector<size_t> ok;           // indices (within the batch) that decoded
  // The model's input (image models have one): the decoded images, in order
  // of `ok`. A vector so Session::run takes it as it is, without a copy.
  std::vector<Tensor> inputs = std::vector<Tensor>(1);
  // Reading the files: io_uring state and buffers kept between batches.
  FileBatchReader reader;
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<size_t> got;  // per file: its length in bytes[i], or 0 (read it with read_file)
};

// Decodes files[b0, b1) in parallel, preprocessed for the model's input
// (spec.preprocessing), shaped as the input: [n, C, H, W], or [n, C*H*W]
// for a flat input (the image flattened in C, H, W order). The files are
// read first, together (file_batch.h), where the kernel allows.
void decode_batch(const std::vector<InputFile>& files, size_t b0, size_t b1,
                  const InputSpec& spec, const Executor& ex, DecodedBatch& out);

}  // namespace bitlane::cli
