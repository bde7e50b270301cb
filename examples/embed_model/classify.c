/* Classifies one image with a model linked into the program:
 *   bitlane_embed IMAGE [THREADS]
 * Prints "IMAGE,LABEL,SCORE" for the best class; exit 1 with bitlane's
 * message on any failure. */
#include <bitlane/bitlane.h>
#include <stdio.h>
#include <stdlib.h>

#include "blobs.h"

static int failed(bitlane_model* m, bitlane_status s, const char* what) {
  fprintf(stderr, "bitlane_embed: %s: %s: %s\n", what, bitlane_status_name(s), bitlane_model_last_error(m));
  bitlane_model_destroy(m);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: bitlane_embed IMAGE [THREADS]   (bitlane %s)\n", bitlane_version());
    return 2;
  }
  bitlane_model* m = bitlane_model_create();
  if (!m) return 1;
  bitlane_status s = bitlane_model_load_memory(m, (const char*)blob_json, (size_t)(blob_json_end - blob_json),
                                               blob_weights, (size_t)(blob_weights_end - blob_weights),
                                               "embedded model");
  if (s != BITLANE_OK) return failed(m, s, "load");
  if ((s = bitlane_model_set_threads(m, argc == 3 ? atoi(argv[2]) : 1)) != BITLANE_OK) return failed(m, s, "threads");
  if ((s = bitlane_model_set_plan(m, EXAMPLE_PLAN)) != BITLANE_OK) return failed(m, s, "plan");
  s = bitlane_model_set_calibration_safetensors(m, blob_calibration, (size_t)(blob_calibration_end - blob_calibration),
                                                "images");
  if (s != BITLANE_OK) return failed(m, s, "calibration");
  if ((s = bitlane_run_image_file(m, argv[1])) != BITLANE_OK) return failed(m, s, argv[1]);

  const float* scores = NULL;
  const int64_t* shape = NULL;
  size_t rank = 0;
  if ((s = bitlane_output(m, 0, &scores, &shape, &rank)) != BITLANE_OK) return failed(m, s, "output");
  size_t best = 0;
  for (size_t i = 1; i < (size_t)shape[rank - 1]; ++i)
    if (scores[i] > scores[best]) best = i;
  const char* label = bitlane_model_label(m, best);
  printf("%s,%s,%.6g\n", argv[1], label ? label : "?", scores[best]);
  bitlane_model_destroy(m);
  return 0;
}
