// Reading a batch of small files in a few system calls instead of four per
// file (open, fstat, read, close), with Linux io_uring.
//
// Why: on a VM every system call costs about a microsecond, so `bitlane run`
// spent ~7 us per 28x28 PNG opening and reading it -- more than decoding
// and inferring it at 4 bits together. One io_uring submission opens, reads
// and closes 64 files (~2 us per file; bench/README.md, "folder").
//
// The batch path is only an accelerator. It takes a file only when the
// listing saw a regular file, and keeps what it read only when the read
// reached the file's end: it returned exactly the size stat() found (one
// more byte is asked for, so a file that grew is noticed), or, for files
// whose size was not looked up (the folder walk knows regular files from
// their directory entries, and a stat() per file cost ~3 us), fewer bytes
// than it asked for. Everything else -- empty or large files, errors, files
// that changed, kernels or sandboxes without io_uring (seccomp, qemu-user),
// builds without liburing -- is left for the caller to read with read_file,
// which names the file and the problem as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bitlane::cli {

// A file to read and what its listing saw.
inline constexpr uint64_t kUnknownSize = UINT64_MAX;
struct InputFile {
  std::string path;
  uint64_t size = kUnknownSize;  // the size stat() found, or kUnknownSize
  bool regular = false;          // a regular file (with a size or not)
};

class FileBatchReader {
 public:
  // With use_io_uring false (or no io_uring here) read() takes nothing.
  explicit FileBatchReader(bool use_io_uring = true);
  ~FileBatchReader();
  FileBatchReader(FileBatchReader&&) noexcept;
  FileBatchReader& operator=(FileBatchReader&&) noexcept;

  // Reads what it can of files[b0, b1): got[i] > 0 says that the first
  // got[i] bytes of bytes[i] are the whole of file b0 + i (files read this
  // way are never empty); the caller reads the others (got[i] == 0) with
  // read_file. The vectors are resized to b1 - b0; each buffer keeps its
  // size between calls and may be longer than its file, so that reading
  // the next batch into it zero-fills nothing (a buffer of the guess below,
  // 4-16 KiB, zero-filled per file, was 90% of the reader's instructions).
  void read(const std::vector<InputFile>& files, size_t b0, size_t b1,
            std::vector<std::vector<uint8_t>>& bytes, std::vector<size_t>& got);

  // Whether io_uring is in use (set up on the first read that needs it).
  bool batched();

  // Files larger than this go the plain way: their system calls are a small
  // part of their decoding.
  static constexpr uint64_t kMaxBatchedBytes = uint64_t{256} << 10;
  // The files one read() holds at once, whatever the batch size; the files
  // past it go the plain way (read one at a time, while being decoded).
  static constexpr uint64_t kMaxHeldBytes = uint64_t{16} << 20;

 private:
  struct Ring;
  std::unique_ptr<Ring> ring_;
  bool tried_ = false, wanted_;
  // Bytes asked for a file of unknown size: grows (to kMaxBatchedBytes + 1)
  // when a read fills it, so a folder of larger images soon fits, and
  // shrinks back after batches of smaller files.
  static constexpr uint64_t kFirstGuess = 4096;
  uint64_t guess_ = kFirstGuess;
};

}  // namespace bitlane::cli
