/* Compiled as C: the header is valid C and the calls link from C. */
#include <string.h>

#include <bitlane/bitlane.h>

int bitlane_c_header_check(void) {
  bitlane_model* m = bitlane_model_create();
  if (!m) return 1;
  int bad = 0;
  /* No model yet: a status, not a crash. */
  if (bitlane_run_image_file(m, "none.png") != BITLANE_ERROR_STATE) bad = 2;
  if (strlen(bitlane_model_last_error(m)) == 0) bad = 3;
  if (bitlane_model_input_count(m) != 0) bad = 4;
  if (strcmp(bitlane_status_name(BITLANE_OK), "ok") != 0) bad = 5;
  bitlane_model_destroy(m);
  return bad;
}
