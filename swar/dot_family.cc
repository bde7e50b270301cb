#include "swar/dot_family.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "swar/pack_kernels.h"

namespace bitlane::swar::detail {
namespace {

int64_t max_abs_biased(int64_t bias, IntFormat f) {
  return std::max(std::abs(f.min_value() - bias), std::abs(f.max_value() - bias));
}

bool is_byte(ElemType t) { return t == ElemType::kI8 || t == ElemType::kU8; }
bool is_word(ElemType t) { return t == ElemType::kI16 || t == ElemType::kU16; }

ByteRowSpec byte_spec(IntFormat f, int64_t bias) {
  ByteRowSpec s;
  s.add = static_cast<uint8_t>(-bias);
  s.check_lo = static_cast<uint8_t>(f.min_value());
  s.check_span = static_cast<uint8_t>(f.max_value() - f.min_value());
  return s;
}
WordRowSpec word_spec(IntFormat f, int64_t bias) {
  WordRowSpec s;
  s.flip = static_cast<uint16_t>(bias);  // 0 or 2^15
  s.check_lo = static_cast<uint16_t>(f.min_value());
  s.check_span = static_cast<uint16_t>(f.max_value() - f.min_value());
  return s;
}

template <typename T>
const T* row_ptr(const MatrixView& v, size_t r) {
  return static_cast<const T*>(v.data) + r * v.stride;
}

// Column col's correction for activations a = a' + ab and weights w = w' + wb:
// sum over k of a w = sum a' w' + ab sum w' + wb sum a' + k ab wb; the second
// and fourth terms per column.
int32_t column_correction(const PackedData& w, size_t col, int64_t ab) {
  return wrap32(ab * w.col_sum[col] + static_cast<int64_t>(w.k) * ab * w.w_bias);
}

// The weights' bytes and column sums (pack_dot_weights adds the corrections).
void pack_dot_columns(const MatrixView& w, PackedData& p, const DotLayout& L) {
  const size_t n = w.rows, k = w.cols;
  const size_t units = ceil_div(k, L.group);
  const size_t blocks = ceil_div(n, kDotBlock);
  const size_t block_bytes = dot_block_bytes(units, L);
  p.w_bias = L.weight_bias(p.w_format);
  p.k_units = units;
  const size_t total = L.column_pairs ? ceil_div(blocks, 2) * 2 * block_bytes : blocks * block_bytes;
  p.data.resize(ceil_div(total, 8));
  p.col_sum.assign(n, 0);
  auto* base = reinterpret_cast<uint8_t*>(p.data.data());
  if (L.column_pairs) {
    // Every byte w'_A = 0 (stored 8), w'_B = 0 first: padding columns, K
    // values, and the second half of a last block alone.
    std::memset(base, 0x08, total);
    std::vector<int32_t> row(k);
    for (size_t col = 0; col < n; ++col) {
      read_row(w, col, row.data());
      uint8_t* pair = base + (col / (2 * kDotBlock)) * 2 * block_bytes + (col % kDotBlock) * 4;
      const bool high = (col / kDotBlock) % 2 == 1;
      int64_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const int64_t v = row[kk] - p.w_bias;  // in [-8, 7]
        sum += v;
        uint8_t& b = pair[(kk / 4) * 64 + kk % 4];
        b = high ? static_cast<uint8_t>((b & 0x0F) | ((v & 0xF) << 4)) : static_cast<uint8_t>((b & 0xF0) | (v + 8));
      }
      p.col_sum[col] = sum;
    }
    return;
  }
  if (L.nibbles) {
    // Every nibble 8 (the value 0) first: padding columns and K values.
    std::memset(base, 0x88, blocks * block_bytes);
    std::vector<int32_t> row(k);
    for (size_t col = 0; col < n; ++col) {
      read_row(w, col, row.data());
      uint8_t* block = base + (col / kDotBlock) * block_bytes + (col % kDotBlock) * 4;
      int64_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const int64_t v = row[kk] - p.w_bias;  // in [-8, 7]
        sum += v;
        const size_t unit = kk / 4, shift = 4 * (unit % 2);
        uint8_t& b = block[(unit / 2) * 64 + kk % 4];
        b = static_cast<uint8_t>((b & ~(0xF << shift)) | ((v + 8) << shift));
      }
      p.col_sum[col] = sum;
    }
    return;
  }
  std::vector<int32_t> row(k);
  bool byte_min = false;
  for (size_t col = 0; col < n; ++col) {
    read_row(w, col, row.data());
    uint8_t* block = base + (col / kDotBlock) * block_bytes + (col % kDotBlock) * L.group * L.elem;
    int64_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) {
      const int64_t v = row[kk] - p.w_bias;
      sum += v;
      uint8_t* dst = block + (kk / L.group) * kDotBlock * L.group * L.elem + (kk % L.group) * L.elem;
      if (L.elem == 1) {
        *reinterpret_cast<int8_t*>(dst) = static_cast<int8_t>(v);
        byte_min |= v == -128;
      } else {
        const int16_t v16 = static_cast<int16_t>(v);
        std::memcpy(dst, &v16, 2);
      }
    }
    p.col_sum[col] = sum;
  }
  p.no_byte_min = L.elem == 1 && !byte_min;
  if (L.elem == 1) {
    p.flip_init.assign(blocks * kDotBlock, 0);
    for (size_t col = 0; col < n; ++col) p.flip_init[col] = wrap32(128 * p.col_sum[col]);
  }
}

}  // namespace

void pack_dot_weights(const MatrixView& w, PackedData& p, const DotLayout& L) {
  pack_dot_columns(w, p, L);
  const int64_t ab = L.activation_bias(p.a_format);
  p.col_init.clear();
  p.col_init_bias = ab;
  if (ab != 0 || p.w_bias != 0) {
    p.col_init.assign(ceil_div(p.n, kDotBlock) * kDotBlock, 0);
    for (size_t col = 0; col < p.n; ++col) p.col_init[col] = column_correction(p, col, ab);
  }
}

void prepare_dot_activations(const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& options,
                             PackedActivations& out, const DotLayout& L) {
  out.format = af;
  const size_t m = a.rows, k = a.cols;
  const bool bytes = L.elem == 1;
  out.bias = L.activation_bias(af);
  out.need_sums = w.w_bias != 0;
  // Only biased weights read the row sums (a zero-fill of m int64 per call
  // otherwise: 0.5% of a ResNet call).
  if (out.need_sums) out.row_sum.assign(m, 0);
  else out.row_sum.clear();
  // Vectorised packers check the range while packing; the scalar ones rely
  // on check_range first.
  // (16-bit layouts also take bytes, widened.)
  out.fast = fits_type(a.type, af) && (is_byte(a.type) || (!bytes && is_word(a.type)));
  if (!out.fast && !options.trusted_range) check_range(a, af, "activations");
  out.in_place = false;
  out.trusted = options.trusted_range;
  // Bias corrections as accumulator starting values (int32 results): the
  // weights' own when this call's bias is theirs.
  const int64_t ab = out.bias, wb = w.w_bias;
  out.col_init.clear();
  out.row_init.clear();
  out.col_inits = nullptr;
  if (ab != 0 || wb != 0) {
    if (ab == w.col_init_bias && !w.col_init.empty()) {
      out.col_inits = w.col_init.data();
    } else {
      out.col_init.assign(ceil_div(w.n, kDotBlock) * kDotBlock, 0);
      for (size_t n = 0; n < w.n; ++n) out.col_init[n] = column_correction(w, n, ab);
      out.col_inits = out.col_init.data();
    }
  }
  if (wb != 0) out.row_init.assign(m, 0);
  // Unsigned bytes whose rows span whole K units (K a multiple of the group,
  // or rows zero-padded to their stride) are already the kernel's layout.
  const size_t k_padded = ceil_div(k, L.group) * L.group;
  const bool whole_units = k % L.group == 0 || (options.zero_padded_rows && a.stride >= k_padded);
  if (out.fast && bytes && out.bias == 0 && !out.need_sums && whole_units && a.type == ElemType::kU8) {
    out.in_place = true;
    out.rows = a.data;
    out.row_stride = a.stride;
    return;
  }
  out.row_stride = w.k_units * 4;  // one 32-bit lane per K unit
  out.data.reserve_scratch(std::max<size_t>(1, ceil_div(m * out.row_stride, 8)));
  out.rows = out.data.data();
}

bool pack_dot_rows(const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1,
                   const DotLayout& L) {
  const IntFormat af = out.format;
  const size_t k = a.cols;
  const bool bytes = L.elem == 1;
  if (r0 >= r1) return true;
  bool ok = true;
  if (out.in_place) {  // only the range check is left to do
    ok = af.bits == 8 || out.trusted ||
         check_bytes({row_ptr<uint8_t>(a, r0), a.stride, nullptr, 0, r1 - r0, k}, byte_spec(af, 0));
  } else {
    const size_t padded = w.k_units * L.group;
    auto* base = reinterpret_cast<uint8_t*>(out.data.data());
    if (out.fast && bytes) {
      ok = bias_bytes({row_ptr<uint8_t>(a, r0), a.stride, base + r0 * out.row_stride, out.row_stride, r1 - r0, k},
                      byte_spec(af, out.bias), padded, out.need_sums ? &out.row_sum[r0] : nullptr);
    } else if (out.fast) {
      auto* dst16 = reinterpret_cast<uint16_t*>(base + r0 * out.row_stride);
      if (is_byte(a.type))  // 8-bit values need no bias in 16-bit lanes
        ok = widen_bytes({row_ptr<uint8_t>(a, r0), a.stride, dst16, out.row_stride / 2, r1 - r0, k},
                         byte_spec(af, 0), a.type == ElemType::kI8, padded);
      else
        ok = bias_words({row_ptr<uint16_t>(a, r0), a.stride, dst16, out.row_stride / 2, r1 - r0, k},
                        word_spec(af, out.bias), padded);
      if (out.need_sums)
        sum_word_rows(reinterpret_cast<const int16_t*>(dst16), r1 - r0, k, out.row_stride / 2, 0, &out.row_sum[r0]);
    } else {
      std::vector<int32_t> row(k);
      for (size_t r = r0; r < r1; ++r) {
        read_row(a, r, row.data());
        uint8_t* dst = base + r * out.row_stride;
        std::memset(dst, 0, out.row_stride);
        int64_t sum = 0;
        for (size_t kk = 0; kk < k; ++kk) {
          const int64_t v = row[kk] - out.bias;
          sum += v;
          if (bytes) {
            dst[kk] = static_cast<uint8_t>(v);
          } else {
            const int16_t v16 = static_cast<int16_t>(v);
            std::memcpy(dst + kk * 2, &v16, 2);
          }
        }
        if (out.need_sums) out.row_sum[r] = sum;
      }
    }
  }
  if (!out.row_init.empty())
    for (size_t m = r0; m < r1; ++m) out.row_init[m] = wrap32(w.w_bias * out.row_sum[m]);
  return ok;
}

size_t dot_exact_units(const PackedData& w, IntFormat af, const DotLayout& L) {
  const int64_t amax = max_abs_biased(L.activation_bias(af), af);
  const int64_t wmax = max_abs_biased(w.w_bias, w.w_format);
  const int64_t per_unit = amax * wmax * static_cast<int64_t>(L.group);
  return static_cast<size_t>(std::numeric_limits<int32_t>::max() / std::max<int64_t>(1, per_unit));
}

size_t dot_pair_units(IntFormat af, IntFormat wf, const DotLayout& L) {
  if (L.group != 4 || L.elem != 1) return 0;
  const int64_t amax = max_abs_biased(L.activation_bias(af), af);
  const int64_t wmax = max_abs_biased(L.weight_bias(wf), wf);
  return static_cast<size_t>(int64_t{std::numeric_limits<int16_t>::max()} / std::max<int64_t>(1, 2 * amax * wmax));
}

namespace {
struct DotScratch {
  AlignedBuffer<int32_t> narrow;
  AlignedBuffer<int64_t> sum;
  AlignedBuffer<int64_t> row_sum;   // stored nibbles: sum(a') of the job's rows
  AlignedBuffer<int32_t> row_start;  // and their accumulators' start, by row
};
DotScratch& scratch() {
  thread_local DotScratch s;
  return s;
}
}  // namespace

void run_dot_tile(const TileJob& job, DotKernel kernel, const DotLayout& L) {
  const PackedActivations& pa = job.a;
  const PackedData& w = job.w;
  DotScratch& s = scratch();
  const size_t rows = job.m1 - job.m0, cols = job.c1 - job.c0;
  const size_t ldo = ceil_div(cols, kDotBlock) * kDotBlock;
  DotArgs g{pa.rows, pa.row_stride, w.data.data(), dot_block_bytes(w.k_units, L)};
  g.n = w.n;
  g.pair_units = dot_pair_units(pa.format, w.w_format, L);
  if (pa.row_offset) {
    g.row_offset = pa.row_offset;
    g.unit_offset = pa.unit_offset.data();
  }
  const size_t units = w.k_units;
  if (!job.wide) {
    // The kernel starts from the corrections and writes whole column blocks
    // straight into C; a last, partial block goes via scratch.
    int32_t* c = static_cast<int32_t*>(job.c);
    g.col_init = pa.col_inits;
    g.row_init = pa.row_init.empty() ? nullptr : pa.row_init.data();
    if (!w.flip_init.empty()) {
      g.flip_init = w.flip_init.data();
      g.no_byte_min = w.no_byte_min;
    }
    if (L.nibbles && !pa.row_offset) {
      // Nibbles multiplied as stored (w' + 8) save the kernel a subtraction
      // per weight vector -- 8 of a GEMV's 34 vector instructions per 8 dot
      // products -- and add 8 * sum(a') to each row, taken off its start
      // here. Packed rows span whole K units, zero-padded.
      s.row_start.reserve_scratch(job.m1);
      s.row_sum.reserve_scratch(rows);
      sum_rows({static_cast<const uint8_t*>(pa.rows) + job.m0 * pa.row_stride, ElemType::kU8, rows, units * 4,
                pa.row_stride},
               s.row_sum.data());
      for (size_t m = job.m0; m < job.m1; ++m)
        s.row_start[m] = wrap32((g.row_init ? int64_t{g.row_init[m]} : 0) - 8 * s.row_sum[m - job.m0]);
      g.row_init = s.row_start.data();
      g.stored_nibbles = true;
    }
    const size_t direct_end =
        job.c_block_padded ? job.c0 + ldo : std::min(job.c0 + ldo, w.n / kDotBlock * kDotBlock);
    if (direct_end > job.c0)
      kernel(g, job.m0, job.m1, job.c0, direct_end, 0, units, c + job.c0, job.ldc);
    if (direct_end < job.c1) {
      s.narrow.reserve_scratch(rows * kDotBlock);
      kernel(g, job.m0, job.m1, direct_end, direct_end + kDotBlock, 0, units, s.narrow.data(), kDotBlock);
      for (size_t m = job.m0; m < job.m1; ++m)
        std::copy_n(s.narrow.data() + (m - job.m0) * kDotBlock, job.c1 - direct_end,
                    c + (m - job.m0) * job.ldc + direct_end);
    }
    return;
  }
  // Exact int64: int32 passes over K chunks that cannot overflow.
  const size_t chunk = std::max<size_t>(1, dot_exact_units(w, pa.format, L));
  s.narrow.reserve_scratch(rows * ldo);
  s.sum.reserve_scratch(rows * ldo);
  std::fill(s.sum.data(), s.sum.data() + rows * ldo, int64_t{0});
  for (size_t k = 0; k < units; k += chunk) {
    kernel(g, job.m0, job.m1, job.c0, job.c0 + ldo, k, std::min(units, k + chunk), s.narrow.data(), ldo);
    for (size_t i = 0; i < rows * ldo; ++i) s.sum[i] += s.narrow[i];
  }
  write_corrected(s.sum.data(), ldo, job);
}

}  // namespace bitlane::swar::detail
