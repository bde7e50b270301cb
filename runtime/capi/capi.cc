// The C API (bitlane.h) over Model, Engine and Session: each call catches
// every exception and turns it into a status and the handle's message.
#include "runtime/capi/bitlane.h"

#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "bitlane_version.h"
#include "core/error.h"
#include "core/executor.h"
#include "runtime/engine.h"
#include "runtime/image/image.h"
#include "runtime/model.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"

struct bitlane_model {
  std::shared_ptr<const bitlane::Model> model;
  std::optional<bitlane::quant::QuantPlan> plan;
  std::vector<bitlane::Tensor> calibration;
  std::string calibration_cache;  // empty: off
  int threads = 1;
  std::unique_ptr<bitlane::Executor> executor;
  std::shared_ptr<const bitlane::Engine> engine;  // null until prepared for the current settings
  std::unique_ptr<bitlane::Session> session;
  std::vector<const bitlane::Tensor*> outputs;
  std::vector<bitlane::Shape> output_shapes;
  std::string error;

  void invalidate() {  // settings changed: rebuild on the next run
    session.reset();
    engine.reset();
    outputs.clear();
    output_shapes.clear();
  }
};

namespace {

using bitlane::DType;
using bitlane::Shape;
using bitlane::Tensor;

// An error with a status: thrown inside the API, caught by guard().
struct Failure {
  bitlane_status status;
  std::string message;
};

[[noreturn]] void failure(bitlane_status s, std::string message) { throw Failure{s, std::move(message)}; }

template <class F>
bitlane_status guard(bitlane_model* h, bitlane_status kind, F&& body) {
  if (!h) return BITLANE_ERROR_ARGUMENT;
  try {
    body();
    h->error.clear();
    return BITLANE_OK;
  } catch (const Failure& f) {
    h->error = f.message;
    return f.status;
  } catch (const bitlane::Error& e) {
    h->error = e.what();
    return kind;
  } catch (const std::bad_alloc&) {
    h->error = "out of memory";
    return BITLANE_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    h->error = std::string("internal error: ") + e.what();
    return BITLANE_ERROR_INTERNAL;
  } catch (...) {
    h->error = "internal error";
    return BITLANE_ERROR_INTERNAL;
  }
}

void need(bool cond, const char* what) {
  if (!cond) failure(BITLANE_ERROR_ARGUMENT, what);
}

void need_model(const bitlane_model* h) {
  if (!h->model) failure(BITLANE_ERROR_STATE, "no model loaded (bitlane_model_load_file or _load_memory first)");
}

// A shape from the caller: rank 1..8, dimensions 1..2^31 (the tensor limit
// is checked when the tensor is made).
Shape read_shape(const int64_t* shape, size_t rank) {
  need(shape != nullptr, "shape is NULL");
  need(rank >= 1 && rank <= 8, "rank must be 1..8");
  Shape s(shape, shape + rank);
  for (int64_t d : s) need(d >= 1 && d <= (int64_t{1} << 31), "every dimension must be 1..2^31");
  return s;
}

void prepare(bitlane_model* h) {
  need_model(h);
  if (!h->executor) h->executor = std::make_unique<bitlane::Executor>(h->threads);
  if (h->engine) return;
  bitlane::EngineOptions o;
  o.plan = h->plan;
  o.calibration = h->calibration;
  o.calibration_cache = h->calibration_cache;
  try {
    h->engine = bitlane::Engine::build(h->model, o, *h->executor);
  } catch (const bitlane::Error& e) {
    failure(BITLANE_ERROR_PLAN, e.what());
  }
  h->session = std::make_unique<bitlane::Session>(h->engine);
}

void run(bitlane_model* h, const std::vector<Tensor>& inputs) {
  prepare(h);
  h->outputs.clear();
  h->output_shapes.clear();
  try {
    h->outputs = h->session->run(inputs, *h->executor);
  } catch (const bitlane::Error& e) {
    failure(BITLANE_ERROR_INPUT, e.what());
  }
  for (const Tensor* t : h->outputs) h->output_shapes.push_back(t->shape());
}

void single_input(const bitlane_model* h, DType dtype) {
  need_model(h);
  if (h->model->inputs().size() != 1) failure(BITLANE_ERROR_STATE, "the model has several inputs");
  if (h->model->inputs()[0].dtype != dtype)
    failure(BITLANE_ERROR_INPUT, std::string("the model's input is ") + bitlane::dtype_name(h->model->inputs()[0].dtype));
}

void run_image(bitlane_model* h, const bitlane::Image& img) {
  single_input(h, DType::kF32);
  const auto& pre = h->model->inputs()[0].preprocessing;
  if (!pre) failure(BITLANE_ERROR_STATE, "the model has no image preprocessing");
  Shape shape{1};  // [1, C, H, W], or [1, C*H*W] for a flat input (the model checked the count)
  const Shape& input = h->model->inputs()[0].shape;
  shape.insert(shape.end(), input.begin(), input.end());
  Tensor x(shape);
  bitlane::preprocess(img, *pre, x.f32());
  run(h, {x});
}

}  // namespace

extern "C" {

const char* bitlane_version(void) { return BITLANE_VERSION_STRING; }

const char* bitlane_status_name(bitlane_status s) {
  switch (s) {
    case BITLANE_OK: return "ok";
    case BITLANE_ERROR_ARGUMENT: return "invalid argument";
    case BITLANE_ERROR_MODEL: return "invalid model";
    case BITLANE_ERROR_PLAN: return "invalid plan or calibration";
    case BITLANE_ERROR_INPUT: return "invalid input";
    case BITLANE_ERROR_OUT_OF_MEMORY: return "out of memory";
    case BITLANE_ERROR_STATE: return "not possible in this state";
    case BITLANE_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

bitlane_model* bitlane_model_create(void) { return new (std::nothrow) bitlane_model(); }

void bitlane_model_destroy(bitlane_model* h) { delete h; }

const char* bitlane_model_last_error(const bitlane_model* h) {
  return h ? h->error.c_str() : "the handle is NULL";
}

bitlane_status bitlane_model_load_file(bitlane_model* h, const char* path) {
  return guard(h, BITLANE_ERROR_MODEL, [&] {
    need(path != nullptr, "path is NULL");
    std::string p = path;
    struct stat st {};
    if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) p += (p.back() == '/' ? "" : "/") + std::string("model.json");
    auto model = bitlane::Model::load(p);
    h->invalidate();
    h->calibration.clear();
    h->model = std::move(model);
  });
}

bitlane_status bitlane_model_load_memory(bitlane_model* h, const char* json, size_t json_size, const void* weights,
                                         size_t weights_size, const char* name) {
  return guard(h, BITLANE_ERROR_MODEL, [&] {
    need(json != nullptr && json_size > 0, "json is NULL or empty");
    need(weights != nullptr || weights_size == 0, "weights is NULL");
    const auto* w = static_cast<const uint8_t*>(weights);
    auto model = bitlane::Model::parse(std::string_view(json, json_size), std::vector<uint8_t>(w, w + weights_size),
                                       name ? name : "model in memory");
    h->invalidate();
    h->calibration.clear();
    h->model = std::move(model);
  });
}

bitlane_status bitlane_model_set_threads(bitlane_model* h, int threads) {
  return guard(h, BITLANE_ERROR_ARGUMENT, [&] {
    need(threads >= 0 && threads <= 4096, "threads must be 0..4096");
    if (threads == h->threads) return;
    h->threads = threads;
    h->executor.reset();
    // The engine does not depend on the thread count; the run state does not either.
  });
}

bitlane_status bitlane_model_set_plan(bitlane_model* h, const char* plan) {
  return guard(h, BITLANE_ERROR_PLAN, [&] {
    std::optional<bitlane::quant::QuantPlan> p;
    if (plan) p = bitlane::quant::QuantPlan::from_text(plan, {});
    h->invalidate();
    h->plan = std::move(p);
  });
}

bitlane_status bitlane_model_set_calibration_f32(bitlane_model* h, const float* data, const int64_t* shape,
                                                 size_t rank) {
  return guard(h, BITLANE_ERROR_PLAN, [&] {
    need_model(h);
    need(data != nullptr, "data is NULL");
    Tensor t(read_shape(shape, rank));
    std::memcpy(t.f32(), data, static_cast<size_t>(t.size()) * sizeof(float));
    h->invalidate();
    h->calibration = one_tensor(std::move(t));
  });
}

bitlane_status bitlane_model_set_calibration_safetensors(bitlane_model* h, const void* bytes, size_t size,
                                                         const char* tensor) {
  return guard(h, BITLANE_ERROR_PLAN, [&] {
    need_model(h);
    need(bytes != nullptr && size > 0, "bytes is NULL or empty");
    need(tensor != nullptr, "tensor is NULL");
    const auto* b = static_cast<const uint8_t*>(bytes);
    const auto file = bitlane::SafeTensorsFile::parse(std::vector<uint8_t>(b, b + size), "calibration in memory");
    auto samples = bitlane::calibration_from(*h->model, file, tensor);
    h->invalidate();
    h->calibration = std::move(samples);
  });
}

bitlane_status bitlane_model_set_calibration_cache(bitlane_model* h, const char* dir) {
  return guard(h, BITLANE_ERROR_ARGUMENT, [&] {
    h->invalidate();
    h->calibration_cache = dir ? dir : "";
  });
}

bitlane_status bitlane_model_prepare(bitlane_model* h) {
  return guard(h, BITLANE_ERROR_PLAN, [&] { prepare(h); });
}

size_t bitlane_model_input_count(const bitlane_model* h) {
  return h && h->model ? h->model->inputs().size() : 0;
}

bitlane_status bitlane_model_input_shape(const bitlane_model* h, size_t index, const int64_t** dims, size_t* rank) {
  return guard(const_cast<bitlane_model*>(h), BITLANE_ERROR_ARGUMENT, [&] {
    need_model(h);
    need(dims != nullptr && rank != nullptr, "dims or rank is NULL");
    need(index < h->model->inputs().size(), "input index out of range");
    const Shape& s = h->model->inputs()[index].shape;
    *dims = s.data();
    *rank = s.size();
  });
}

size_t bitlane_model_label_count(const bitlane_model* h) {
  return h && h->model ? h->model->labels().size() : 0;
}

const char* bitlane_model_label(const bitlane_model* h, size_t index) {
  if (!h || !h->model || index >= h->model->labels().size()) return nullptr;
  return h->model->labels()[index].c_str();
}

bitlane_status bitlane_run_f32(bitlane_model* h, const float* data, const int64_t* shape, size_t rank) {
  return guard(h, BITLANE_ERROR_INPUT, [&] {
    single_input(h, DType::kF32);
    need(data != nullptr, "data is NULL");
    Tensor x(read_shape(shape, rank));
    std::memcpy(x.f32(), data, static_cast<size_t>(x.size()) * sizeof(float));
    run(h, {x});
  });
}

bitlane_status bitlane_run_i32(bitlane_model* h, const int32_t* data, const int64_t* shape, size_t rank) {
  return guard(h, BITLANE_ERROR_INPUT, [&] {
    single_input(h, DType::kI32);
    need(data != nullptr, "data is NULL");
    Tensor x(read_shape(shape, rank), DType::kI32);
    std::memcpy(x.i32(), data, static_cast<size_t>(x.size()) * sizeof(int32_t));
    run(h, {x});
  });
}

bitlane_status bitlane_run_image_u8(bitlane_model* h, const uint8_t* pixels, int width, int height, int channels,
                                    size_t stride) {
  return guard(h, BITLANE_ERROR_INPUT, [&] {
    need(pixels != nullptr, "pixels is NULL");
    need(width >= 1 && height >= 1 && static_cast<int64_t>(width) * height <= (int64_t{1} << 28),
         "width and height must be at least 1 and at most 2^28 pixels in all");
    need(channels == 1 || channels == 3 || channels == 4, "channels must be 1, 3 or 4");
    const size_t row = static_cast<size_t>(width) * static_cast<size_t>(channels);
    if (stride == 0) stride = row;
    need(stride >= row, "stride is smaller than width * channels");
    bitlane::Image img;
    img.width = width;
    img.height = height;
    img.channels = channels;
    img.pixels.resize(row * static_cast<size_t>(height));
    for (int y = 0; y < height; ++y)
      for (size_t i = 0; i < row; ++i) img.pixels[static_cast<size_t>(y) * row + i] = pixels[static_cast<size_t>(y) * stride + i];
    run_image(h, img);
  });
}

bitlane_status bitlane_run_image_file(bitlane_model* h, const char* path) {
  return guard(h, BITLANE_ERROR_INPUT, [&] {
    need(path != nullptr, "path is NULL");
    single_input(h, DType::kF32);  // before decoding: a missing model is the first problem
    run_image(h, bitlane::load_image(path));
  });
}

bitlane_status bitlane_model_reset(bitlane_model* h) {
  return guard(h, BITLANE_ERROR_STATE, [&] {
    need_model(h);
    if (h->session) h->session->reset();
  });
}

size_t bitlane_output_count(const bitlane_model* h) { return h ? h->outputs.size() : 0; }

bitlane_status bitlane_output(const bitlane_model* h, size_t index, const float** data, const int64_t** shape,
                              size_t* rank) {
  return guard(const_cast<bitlane_model*>(h), BITLANE_ERROR_ARGUMENT, [&] {
    need(data != nullptr && shape != nullptr && rank != nullptr, "data, shape or rank is NULL");
    if (h->outputs.empty()) failure(BITLANE_ERROR_STATE, "no outputs: run the model first");
    need(index < h->outputs.size(), "output index out of range");
    const Tensor* t = h->outputs[index];
    if (t->dtype() != DType::kF32) failure(BITLANE_ERROR_STATE, "output is not float32");
    *data = t->f32();
    *shape = h->output_shapes[index].data();
    *rank = h->output_shapes[index].size();
  });
}

}  // extern "C"
