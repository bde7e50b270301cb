// apps/file_batch: the io_uring batch reader takes exactly the files it
// should (regular, of the size the listing saw or read to their end, small
// enough), returns their bytes as read_file does, and leaves everything
// else -- missing files, files that grew or shrank since the listing, FIFOs,
// directories, files over the limits -- to read_file, without ever waiting
// on a FIFO.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "apps/file_batch.h"
#include "apps/input_files.h"
#include "core/limits.h"
#include "runtime/safetensors.h"

using bitlane::cli::FileBatchReader;
using bitlane::cli::InputFile;
using bitlane::cli::kUnknownSize;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("bitlane_file_batch_" + std::to_string(getpid()));
  TempDir() { fs::create_directories(dir); }
  ~TempDir() { fs::remove_all(dir); }
};

std::string write(const fs::path& p, size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  std::ofstream(p, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
  return p.string();
}

// The reader's verdict on files[b0, b1), checked against read_file: every
// file it took holds read_file's bytes (the first got[i] of its buffer, which
// may be longer). Returns which it took.
std::vector<char> read_and_check(FileBatchReader& r, const std::vector<InputFile>& files, size_t b0, size_t b1,
                                 std::vector<std::vector<uint8_t>>& bytes) {
  std::vector<size_t> got;
  r.read(files, b0, b1, bytes, got);
  REQUIRE(got.size() == b1 - b0);
  REQUIRE(bytes.size() == b1 - b0);
  std::vector<char> took(got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    took[i] = got[i] > 0;
    if (!got[i]) continue;
    REQUIRE(got[i] <= bytes[i].size());
    const std::vector<uint8_t> held(bytes[i].begin(), bytes[i].begin() + static_cast<std::ptrdiff_t>(got[i]));
    CHECK_MESSAGE(held == bitlane::read_file(files[b0 + i].path), files[b0 + i].path);
  }
  return took;
}

}  // namespace

TEST_CASE("batch reads: the honest small regular files, byte for byte, the rest left to read_file") {
  TempDir t;
  std::mt19937 rng(7);
  std::vector<InputFile> files;
  std::vector<char> want;  // whether the batch path should take it
  auto add = [&](std::string path, uint64_t size, bool take) {
    files.push_back({std::move(path), size, size != kUnknownSize});
    want.push_back(take);
  };
  // 150 files: more than two submissions of 64, sizes 1 byte .. ~6 KB.
  for (int i = 0; i < 150; ++i) {
    const size_t n = 1 + rng() % 6000;
    add(write(t.dir / ("f" + std::to_string(i) + ".png"), n, rng), n, true);
  }
  const uint64_t cap = FileBatchReader::kMaxBatchedBytes;
  add(write(t.dir / "cap.png", cap, rng), cap, true);
  add(write(t.dir / "over-cap.png", cap + 1, rng), cap + 1, false);
  add(write(t.dir / "empty.png", 0, rng), 0, false);
  add(write(t.dir / "grew.png", 500, rng), 499, false);    // the walk saw 499 bytes
  add(write(t.dir / "shrank.png", 500, rng), 501, false);  // the walk saw 501 bytes
  add((t.dir / "missing.png").string(), 100, false);
  fs::create_directory(t.dir / "folder.png");
  add((t.dir / "folder.png").string(), 4096, false);  // a folder claimed to be a file
  REQUIRE(mkfifo((t.dir / "pipe.png").c_str(), 0600) == 0);
  add((t.dir / "pipe.png").string(), 10, false);  // a FIFO claimed to be a file: no writer
  add(write(t.dir / "unknown.png", 10, rng), kUnknownSize, false);  // not seen as a regular file
  add(write(t.dir / "last.png", 33, rng), 33, true);

  FileBatchReader plain(false);
  std::vector<std::vector<uint8_t>> bytes;
  CHECK(!plain.batched());
  for (char g : read_and_check(plain, files, 0, files.size(), bytes)) CHECK(!g);

  FileBatchReader ring;
  if (!ring.batched()) {
    MESSAGE("io_uring is not available here (build without liburing, kernel, or sandbox): only the plain path was checked");
    return;
  }
  CHECK(read_and_check(ring, files, 0, files.size(), bytes) == want);
  // A window into the list, reusing the buffers of the first call.
  const size_t b0 = 140, b1 = files.size() - 1;
  CHECK(read_and_check(ring, files, b0, b1, bytes) == std::vector<char>(want.begin() + b0, want.begin() + b1));

  SUBCASE("files above limits().max_file_bytes are left to read_file, which names the limit") {
    const uint64_t old = bitlane::limits().max_file_bytes;
    bitlane::limits().max_file_bytes = 3000;
    std::vector<char> got = read_and_check(ring, files, 0, 150, bytes);
    for (size_t i = 0; i < 150; ++i) CHECK(got[i] == (files[i].size <= 3000));
    bitlane::limits().max_file_bytes = old;
  }
}

TEST_CASE("batch reads: one call holds at most kMaxHeldBytes, the files past it are left to read_file") {
  TempDir t;
  std::mt19937 rng(5);
  std::vector<InputFile> files;
  const size_t each = 250000;  // 70 files: 17.5 MB, more than the 16 MiB held
  for (int i = 0; i < 70; ++i)
    files.push_back({write(t.dir / ("big" + std::to_string(i) + ".jpg"), each, rng), each, true});
  FileBatchReader ring;
  if (!ring.batched()) {
    MESSAGE("io_uring is not available here: nothing to check");
    return;
  }
  std::vector<std::vector<uint8_t>> bytes;
  const std::vector<char> got = read_and_check(ring, files, 0, files.size(), bytes);
  uint64_t held = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    held += each + 1;
    CHECK_MESSAGE(got[i] == (held <= FileBatchReader::kMaxHeldBytes), "file " << i);
    if (!got[i]) CHECK(bytes[i].capacity() == 0);  // nothing kept for the plain path
  }
}

TEST_CASE("batch reads: a FIFO with a silent writer is given up after the read timeout, not waited on") {
  TempDir t;
  const fs::path fifo = t.dir / "pipe.png";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // This process holds the FIFO open for writing and never writes: a read
  // would wait forever.
  const int writer = open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  REQUIRE(writer >= 0);
  std::mt19937 rng(1);
  const std::vector<InputFile> files = {{fifo.string(), 10, true}, {write(t.dir / "a.png", 10, rng), 10, true}};
  FileBatchReader ring;
  if (!ring.batched()) {
    MESSAGE("io_uring is not available here: nothing to check");
    close(writer);
    return;
  }
  std::vector<std::vector<uint8_t>> bytes;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<char> got = read_and_check(ring, files, 0, files.size(), bytes);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));  // a hang guard, not a timing
  CHECK(got == std::vector<char>{0, 1});
  close(writer);
}

TEST_CASE("batch reads of regular files whose size was not looked up: read to their end, the guess grows") {
  // The folder walk knows regular files from their directory entries and
  // does not stat() them; the reader asks for a guess (4 KiB at first) and
  // keeps a file when the read returned less than that: the whole file.
  TempDir t;
  std::mt19937 rng(11);
  std::vector<InputFile> files;
  std::vector<char> first, second;  // taken by the first call, and by the next one
  auto add = [&](std::string path, bool regular, bool take_first, bool take_second) {
    files.push_back({std::move(path), kUnknownSize, regular});
    first.push_back(take_first);
    second.push_back(take_second);
  };
  for (int i = 0; i < 100; ++i) {
    const size_t n = 1 + rng() % 3000;
    add(write(t.dir / ("f" + std::to_string(i) + ".png"), n, rng), true, true, true);
  }
  add(write(t.dir / "below-guess.png", 4095, rng), true, true, true);
  add(write(t.dir / "at-guess.png", 4096, rng), true, false, true);  // fills the guess: not known to be whole
  for (int i = 0; i < 3; ++i) add(write(t.dir / ("large" + std::to_string(i) + ".png"), 10000, rng), true, false, true);
  add(write(t.dir / "empty.png", 0, rng), true, false, false);
  add((t.dir / "missing.png").string(), true, false, false);
  fs::create_directory(t.dir / "folder.png");
  add((t.dir / "folder.png").string(), true, false, false);  // a folder claimed to be a file
  REQUIRE(mkfifo((t.dir / "pipe.png").c_str(), 0600) == 0);
  add((t.dir / "pipe.png").string(), true, false, false);  // a FIFO claimed to be a file: no writer, reads 0
  add(write(t.dir / "not-regular.png", 10, rng), false, false, false);

  FileBatchReader ring;
  if (!ring.batched()) {
    MESSAGE("io_uring is not available here: nothing to check");
    return;
  }
  std::vector<std::vector<uint8_t>> bytes;
  CHECK(read_and_check(ring, files, 0, files.size(), bytes) == first);
  CHECK(read_and_check(ring, files, 0, files.size(), bytes) == second);  // the guess is 16 KiB now
  // A batch of small files only (at most 3000 bytes) brings the guess back
  // to 8 KiB: the 4096-byte file fits, the 10000-byte ones are left to
  // read_file again.
  CHECK(read_and_check(ring, files, 0, 100, bytes) == std::vector<char>(first.begin(), first.begin() + 100));
  std::vector<char> third = second;
  for (size_t i = 102; i < 105; ++i) third[i] = 0;  // large0..2
  CHECK(read_and_check(ring, files, 0, files.size(), bytes) == third);

  SUBCASE("files above limits().max_file_bytes are left to read_file") {
    const uint64_t old = bitlane::limits().max_file_bytes;
    bitlane::limits().max_file_bytes = 3000;
    const std::vector<char> got = read_and_check(ring, files, 0, 100, bytes);
    for (size_t i = 0; i < 100; ++i) CHECK(got[i] == (fs::file_size(files[i].path) <= 3000));
    bitlane::limits().max_file_bytes = old;
  }
}

TEST_CASE("the folder walk marks regular files without a stat(), a list names sizes") {
  TempDir t;
  std::mt19937 rng(3);
  write(t.dir / "b.png", 321, rng);
  fs::create_directory(t.dir / "sub");
  write(t.dir / "sub" / "a.jpg", 5, rng);
  write(t.dir / "sub" / "notes.txt", 5, rng);
  REQUIRE(mkfifo((t.dir / "c.png").c_str(), 0600) == 0);
  fs::create_symlink(t.dir / "b.png", t.dir / "d.png");
  const auto walk = bitlane::cli::collect_inputs({t.dir.string()});
  REQUIRE(walk.files.size() == 4);
  CHECK(walk.skipped == 1);
  CHECK(walk.files[0].path == (t.dir / "b.png").string());
  CHECK((walk.files[0].regular && walk.files[0].size == kUnknownSize));  // by its directory entry
  CHECK(walk.files[1].path == (t.dir / "c.png").string());
  CHECK((!walk.files[1].regular && walk.files[1].size == kUnknownSize));  // a FIFO
  CHECK(walk.files[2].path == (t.dir / "d.png").string());
  CHECK((walk.files[2].regular && walk.files[2].size == 321));  // a symlink: looked up
  CHECK(walk.files[3].path == (t.dir / "sub" / "a.jpg").string());
  CHECK((walk.files[3].regular && walk.files[3].size == kUnknownSize));
  // A file named in a list (eval's CSV) or on the command line: stat()ed.
  const InputFile b = bitlane::cli::listed_file((t.dir / "b.png").string());
  CHECK((b.regular && b.size == 321));
  CHECK(!bitlane::cli::listed_file((t.dir / "c.png").string()).regular);
  CHECK(!bitlane::cli::listed_file((t.dir / "gone.png").string()).regular);
  CHECK(bitlane::cli::collect_inputs({(t.dir / "b.png").string()}).files.at(0).size == 321);
}
