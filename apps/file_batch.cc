#include "apps/file_batch.h"

#include <fcntl.h>

#include <algorithm>
#include <bit>
#include <cerrno>

#include "core/limits.h"

#if BITLANE_HAVE_LIBURING
#include <liburing.h>
#endif

namespace bitlane::cli {
namespace {

// Files per submission. Each takes three entries -- open into a slot of the
// ring's own file table (no descriptor in the process's table, no close:
// the next open into the slot, or the ring's end, releases the file), read,
// and a timeout on the read -- and one slot.
constexpr unsigned kChunk = 64;

}  // namespace

#if BITLANE_HAVE_LIBURING

namespace {

constexpr unsigned kOpen = 0, kRead = 1, kTimeout = 2;

// A read still pending after this long is cancelled and the file read the
// plain way. Page-cache reads finish inline and never arm the timer; it
// bounds the case of a file swapped for a FIFO after the walk, which
// io_uring would otherwise wait on.
constexpr __kernel_timespec kReadTimeout{1, 0};

}  // namespace

struct FileBatchReader::Ring {
  static constexpr uint64_t kKeptBytes = uint64_t{64} << 10;
  io_uring ring{};
  bool set_up = false, ok = false;

  Ring() {
    if (io_uring_queue_init(3 * kChunk, &ring, 0) < 0) return;
    set_up = true;
    ok = io_uring_register_files_sparse(&ring, kChunk) >= 0;
  }
  ~Ring() {
    if (set_up) io_uring_queue_exit(&ring);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Opens and reads files b0 + slots[k] into bytes[slots[k]] (ask[k]
  // bytes asked for: size + 1, or a guess); sets got[] to the bytes read
  // where the read reached the end (returned the size, or less than asked
  // for a file of unknown size); sets filled
  // when a guess was too small, and raises longest to the longest file of
  // unknown size read whole. False if the ring itself failed (then nothing
  // is marked got).
  bool run(const std::vector<InputFile>& files, size_t b0, const std::vector<size_t>& slots,
           const std::vector<uint64_t>& ask, std::vector<std::vector<uint8_t>>& bytes, std::vector<size_t>& got,
           bool& filled, uint64_t& longest) {
    const unsigned n = static_cast<unsigned>(slots.size());
    std::vector<int> read(n, -1);
    for (unsigned k = 0; k < n; ++k) {
      const InputFile& f = files[b0 + slots[k]];
      std::vector<uint8_t>& b = bytes[slots[k]];
      // A large file's buffer, earlier, is freed; buffers up to kKeptBytes
      // stay whatever is asked (the guess moves between 4 and 16 KiB from
      // batch to batch in a folder with a few larger images).
      if (b.size() > std::max<uint64_t>(2 * ask[k], kKeptBytes)) std::vector<uint8_t>().swap(b);
      if (b.size() < ask[k]) b.resize(static_cast<size_t>(ask[k]));  // grows only: no zero-fill per file
      io_uring_sqe* s = io_uring_get_sqe(&ring);
      io_uring_prep_openat_direct(s, AT_FDCWD, f.path.c_str(), O_RDONLY | O_NONBLOCK, 0, k);
      s->flags |= IOSQE_IO_LINK;
      io_uring_sqe_set_data64(s, 4 * k + kOpen);
      s = io_uring_get_sqe(&ring);
      io_uring_prep_read(s, static_cast<int>(k), b.data(), static_cast<unsigned>(ask[k]), 0);
      s->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
      io_uring_sqe_set_data64(s, 4 * k + kRead);
      s = io_uring_get_sqe(&ring);
      io_uring_prep_link_timeout(s, const_cast<__kernel_timespec*>(&kReadTimeout), 0);
      io_uring_sqe_set_data64(s, 4 * k + kTimeout);
    }
    const int submitted = io_uring_submit(&ring);
    if (submitted != static_cast<int>(3 * n)) {
      // Entries left in the queue would go with the next submission: give up
      // on the ring rather than reason about a half-submitted batch.
      abandon(bytes, got, slots, submitted > 0);
      return false;
    }
    for (unsigned seen = 0; seen < 3 * n; ++seen) {
      io_uring_cqe* c = nullptr;
      int w;
      while ((w = io_uring_wait_cqe(&ring, &c)) == -EINTR) {
      }
      if (w < 0) {
        abandon(bytes, got, slots, true);
        return false;
      }
      const uint64_t tag = io_uring_cqe_get_data64(c);
      if (tag % 4 == kRead) read[tag / 4] = c->res;
      io_uring_cqe_seen(&ring, c);
    }
    for (unsigned k = 0; k < n; ++k) {
      const size_t i = slots[k];
      const uint64_t size = files[b0 + i].size;
      const bool whole = read[k] > 0 && (size == kUnknownSize ? static_cast<uint64_t>(read[k]) < ask[k]
                                                              : static_cast<uint64_t>(read[k]) == size);
      filled = filled || (size == kUnknownSize && read[k] >= 0 && static_cast<uint64_t>(read[k]) == ask[k]);
      got[i] = whole ? static_cast<size_t>(read[k]) : 0;
      if (whole && size == kUnknownSize) longest = std::max(longest, static_cast<uint64_t>(read[k]));
    }
    return true;
  }

 private:
  // The ring is given up. Requests still in flight may write into their
  // buffers, so those are never freed (not seen to happen: the queues are
  // sized so completions cannot overflow).
  void abandon(std::vector<std::vector<uint8_t>>& bytes, std::vector<size_t>& got, const std::vector<size_t>& slots,
               bool in_flight) {
    ok = false;
    for (size_t i : slots) got[i] = 0;
    if (!in_flight) return;
    auto* kept = new std::vector<std::vector<uint8_t>>;  // deliberately leaked
    for (size_t i : slots) kept->push_back(std::move(bytes[i]));
  }
};

#else

struct FileBatchReader::Ring {
  bool ok = false;
  bool run(const std::vector<InputFile>&, size_t, const std::vector<size_t>&, const std::vector<uint64_t>&,
           std::vector<std::vector<uint8_t>>&, std::vector<size_t>&, bool&, uint64_t&) {
    return false;
  }
};

#endif

FileBatchReader::FileBatchReader(bool use_io_uring) : wanted_(use_io_uring) {}
FileBatchReader::~FileBatchReader() = default;
FileBatchReader::FileBatchReader(FileBatchReader&&) noexcept = default;
FileBatchReader& FileBatchReader::operator=(FileBatchReader&&) noexcept = default;

bool FileBatchReader::batched() {
  if (!tried_ && wanted_) ring_ = std::make_unique<Ring>();
  tried_ = true;
  return ring_ && ring_->ok;
}

void FileBatchReader::read(const std::vector<InputFile>& files, size_t b0, size_t b1,
                           std::vector<std::vector<uint8_t>>& bytes, std::vector<size_t>& got) {
  const size_t n = b1 - b0;
  bytes.resize(n);
  got.assign(n, 0);
  const uint64_t cap = std::min<uint64_t>(kMaxBatchedBytes, limits().max_file_bytes);
  uint64_t held = 0;
  bool filled = false;   // a guess was too small
  uint64_t longest = 0;  // the longest file of unknown size read whole
  std::vector<size_t> slots;
  std::vector<uint64_t> ask;
  for (size_t i = 0; i <= n; ++i) {
    if (slots.size() == kChunk || (i == n && !slots.empty())) {
      if (!ring_->run(files, b0, slots, ask, bytes, got, filled, longest)) return;
      slots.clear();
      ask.clear();
    }
    if (i == n) break;
    const InputFile& f = files[b0 + i];
    const uint64_t want = f.size == kUnknownSize ? std::min(guess_, cap + 1) : f.size + 1;
    if (!f.regular || f.size == 0 || (f.size != kUnknownSize && f.size > cap) || held + want > kMaxHeldBytes) {
      std::vector<uint8_t>().swap(bytes[i]);  // read_file's, with its errors; nothing kept here
      continue;
    }
    if (slots.empty() && !batched()) return;
    held += want;
    slots.push_back(i);
    ask.push_back(want);
  }
  // Grown when a file did not fit; otherwise shrunk back towards twice the
  // longest file read (at least 4 KiB), so that one large image does not
  // keep every buffer large (run() frees a buffer of more than twice the
  // bytes it asks for, beyond 64 KiB).
  if (filled) guess_ = std::min(4 * guess_, kMaxBatchedBytes + 1);
  else if (longest > 0) guess_ = std::min(guess_, std::max<uint64_t>(kFirstGuess, std::bit_ceil(2 * longest)));
}

}  // namespace bitlane::cli
