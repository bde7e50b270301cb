/* bitlane C API: load a model (from files or from memory), choose threads
 * and a quantization plan, run it on float, integer or 8-bit image input,
 * and read its outputs. Installed as <bitlane/bitlane.h>.
 *
 * Handles: a bitlane_model holds a loaded model, its settings, the built
 * engine and one session. Calls on one handle must not overlap (use one
 * handle per thread); separate handles are independent and may be used from
 * different threads at the same time.
 *
 * Ownership: every pointer passed in is only read during the call (bytes
 * given to bitlane_model_load_memory are copied). Every pointer handed out
 * (error messages, labels, outputs, shapes) belongs to the handle and stays
 * valid until the next call on that handle that can change it (any load,
 * set_*, prepare or run) or until bitlane_model_destroy.
 *
 * Errors: every call returning bitlane_status leaves a message naming the
 * file, node or argument and the problem in bitlane_model_last_error. No call
 * aborts or throws on bad input.
 */
#ifndef BITLANE_BITLANE_H_
#define BITLANE_BITLANE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bitlane_status {
  BITLANE_OK = 0,
  BITLANE_ERROR_ARGUMENT = 1,      /* a null pointer, an index or size out of range */
  BITLANE_ERROR_MODEL = 2,         /* the model or weights cannot be read or are invalid */
  BITLANE_ERROR_PLAN = 3,          /* the quantization plan or calibration is invalid */
  BITLANE_ERROR_INPUT = 4,         /* input of the wrong shape, type or content */
  BITLANE_ERROR_OUT_OF_MEMORY = 5,
  BITLANE_ERROR_STATE = 6,         /* e.g. run before a model was loaded */
  BITLANE_ERROR_INTERNAL = 7
} bitlane_status;

/* "0.1.0" */
const char* bitlane_version(void);
/* A short English name of a status ("invalid argument", ...). */
const char* bitlane_status_name(bitlane_status status);

typedef struct bitlane_model bitlane_model;

/* A new empty handle (NULL only when out of memory); destroy frees it. */
bitlane_model* bitlane_model_create(void);
void bitlane_model_destroy(bitlane_model* model);
/* Message of the last failed call on this handle ("" after a success). */
const char* bitlane_model_last_error(const bitlane_model* model);

/* Loads model.json (or a folder holding it) and the weights it names. */
bitlane_status bitlane_model_load_file(bitlane_model* model, const char* path);
/* Loads from memory: the JSON text and the bytes of the .safetensors file
 * (for firmware that embeds the model as byte arrays). `name` is used in
 * error messages and may be NULL. Calibration samples for quantized plans
 * must then be given with bitlane_model_set_calibration_*. */
bitlane_status bitlane_model_load_memory(bitlane_model* model, const char* json, size_t json_size,
                                         const void* weights, size_t weights_size, const char* name);

/* Worker threads (0 = all cores; default 1). */
bitlane_status bitlane_model_set_threads(bitlane_model* model, int threads);
/* A quantization plan in the CLI form ("8", "w4a8,first=fp32",
 * "scheme=term,w4a6,g=16,k=10") or JSON; NULL restores the model's own. */
bitlane_status bitlane_model_set_plan(bitlane_model* model, const char* plan);
/* Calibration samples: a float tensor, batch first, preprocessed like the
 * model's input ... */
bitlane_status bitlane_model_set_calibration_f32(bitlane_model* model, const float* data, const int64_t* shape,
                                                 size_t rank);
/* ... or a tensor of a .safetensors file in memory (U8 images are scaled
 * and normalized like the model's input, as for files the model names). */
bitlane_status bitlane_model_set_calibration_safetensors(bitlane_model* model, const void* bytes, size_t size,
                                                         const char* tensor);
/* A folder that keeps calibration results between processes (created if
 * missing): a plan calibrated by min/max then runs the samples through the
 * float model once per model, samples and build, and later prepares read
 * the ranges back -- the same engine, bit for bit. A folder that cannot be
 * written costs only the time. NULL or "" (the default): calibrate on every
 * prepare. The string is copied. */
bitlane_status bitlane_model_set_calibration_cache(bitlane_model* model, const char* dir);
/* Builds the engine for the current plan (quantizes and packs weights,
 * calibrates). Runs call it when needed; call it to pay the cost up front. */
bitlane_status bitlane_model_prepare(bitlane_model* model);

/* The model's inputs: shape without the batch axis (-1: any size). */
size_t bitlane_model_input_count(const bitlane_model* model);
bitlane_status bitlane_model_input_shape(const bitlane_model* model, size_t index, const int64_t** dims,
                                         size_t* rank);
/* Class labels (NULL past the end or without labels). */
size_t bitlane_model_label_count(const bitlane_model* model);
const char* bitlane_model_label(const bitlane_model* model, size_t index);

/* Runs on float input, batch first (shape[0] = batch), for a single-input
 * model. A NaN or infinite value is BITLANE_ERROR_INPUT, its element named. */
bitlane_status bitlane_run_f32(bitlane_model* model, const float* data, const int64_t* shape, size_t rank);
/* Runs on token ids, shape [batch, steps] (text models). State carries over
 * to the next call until bitlane_model_reset. */
bitlane_status bitlane_run_i32(bitlane_model* model, const int32_t* data, const int64_t* shape, size_t rank);
/* Runs on one image of 8-bit pixels, interleaved, rows `stride` bytes apart
 * (0: width * channels), channels 1 (gray), 3 (RGB) or 4 (RGBA): converted,
 * resized and normalized as the model's preprocessing says. */
bitlane_status bitlane_run_image_u8(bitlane_model* model, const uint8_t* pixels, int width, int height,
                                    int channels, size_t stride);
/* Decodes an image file (PNG, JPEG, BMP, PGM/PPM) and runs on it. */
bitlane_status bitlane_run_image_file(bitlane_model* model, const char* path);
/* Forgets the state of stateful layers (LSTM). */
bitlane_status bitlane_model_reset(bitlane_model* model);

/* Outputs of the last run: float data and shape (batch first). */
size_t bitlane_output_count(const bitlane_model* model);
bitlane_status bitlane_output(const bitlane_model* model, size_t index, const float** data, const int64_t** shape,
                              size_t* rank);

#ifdef __cplusplus
}
#endif

#endif /* BITLANE_BITLANE_H_ */
