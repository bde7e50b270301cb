/* Latency distribution of one model through the C API, as an embedder sees
 * it: bitlane_run_f32 called back to back on one float batch, each call timed.
 * Prints min and percentiles, so a bimodal distribution (some calls paying
 * for something the others do not) shows where a mean or a minimum hides it.
 *
 *   bitlane_capi_latency MODEL_DIR [--threads T] [--plan P] [--batch B] [--calls N]
 *
 * Written in C on purpose: it uses nothing but runtime/capi/bitlane.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bitlane/bitlane.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static int fail(bitlane_model* m, const char* what) {
  fprintf(stderr, "bitlane_capi_latency: %s: %s\n", what, m ? bitlane_model_last_error(m) : "out of memory");
  bitlane_model_destroy(m);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: %s MODEL_DIR [--threads T] [--plan P] [--batch B] [--calls N]\n", argv[0]);
    return 2;
  }
  int threads = 1, batch = 64, calls = 1000;
  const char* plan = "4";
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--plan")) plan = argv[i + 1];
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--calls")) calls = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "bitlane_capi_latency: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (batch < 1 || calls < 1 || threads < 0) {
    fprintf(stderr, "bitlane_capi_latency: --batch and --calls must be >= 1, --threads >= 0\n");
    return 2;
  }
  bitlane_model* m = bitlane_model_create();
  if (!m || bitlane_model_load_file(m, argv[1]) != BITLANE_OK) return fail(m, argv[1]);
  if (bitlane_model_set_threads(m, threads) != BITLANE_OK || bitlane_model_set_plan(m, plan) != BITLANE_OK ||
      bitlane_model_prepare(m) != BITLANE_OK)
    return fail(m, "preparing the plan");
  const int64_t* dims = NULL;
  size_t rank = 0;
  if (bitlane_model_input_count(m) != 1 || bitlane_model_input_shape(m, 0, &dims, &rank) != BITLANE_OK ||
      rank > 7)
    return fail(m, "the model must have one float input");
  int64_t shape[8] = {batch};
  size_t values = (size_t)batch;
  for (size_t i = 0; i < rank; ++i) {
    shape[i + 1] = dims[i] < 0 ? 1 : dims[i];
    values *= (size_t)shape[i + 1];
  }
  float* x = malloc(values * sizeof(float));
  double* t = malloc((size_t)calls * sizeof(double));
  if (!x || !t) return fail(NULL, "allocating the batch");
  for (size_t i = 0; i < values; ++i) x[i] = (float)((i * 7919u) % 255u) / 127.5f - 1.f;  // fixed pseudo-data
  for (int i = 0; i < 20; ++i)  // warm-up: scratch buffers, workers, caches
    if (bitlane_run_f32(m, x, shape, rank + 1) != BITLANE_OK) return fail(m, "run");
  for (int i = 0; i < calls; ++i) {
    const double start = now_ms();
    if (bitlane_run_f32(m, x, shape, rank + 1) != BITLANE_OK) return fail(m, "run");
    t[i] = now_ms() - start;
  }
  qsort(t, (size_t)calls, sizeof(double), by_value);
  printf("%s plan %s batch %d threads %d, %d calls, ms: min %.3f p10 %.3f p25 %.3f p50 %.3f p75 %.3f p90 %.3f max %.3f\n",
         argv[1], plan, batch, threads, calls, t[0], t[calls / 10], t[calls / 4], t[calls / 2], t[3 * calls / 4],
         t[9 * calls / 10], t[calls - 1]);
  free(x);
  free(t);
  bitlane_model_destroy(m);
  return 0;
}
