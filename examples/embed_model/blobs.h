/* Byte arrays linked into the program (blobs.c); size = end - start. */
#ifndef BITLANE_EXAMPLE_BLOBS_H_
#define BITLANE_EXAMPLE_BLOBS_H_

extern const unsigned char blob_json[], blob_json_end[];
extern const unsigned char blob_weights[], blob_weights_end[];
extern const unsigned char blob_calibration[], blob_calibration_end[];

#endif
