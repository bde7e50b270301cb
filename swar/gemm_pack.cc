#include "swar/gemm_pack.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "swar/gemm_internal.h"
#include "swar/pack_kernels.h"

namespace bitlane::swar::detail {
namespace {

using A = GemmAccess;

// Row r of a view as int32 values.
void read_row(const MatrixView& v, size_t r, int32_t* dst) {
  auto copy = [&](const auto* base) {
    const auto* row = base + r * v.stride;
    for (size_t c = 0; c < v.cols; ++c) dst[c] = static_cast<int32_t>(row[c]);
  };
  switch (v.type) {
    case ElemType::kI8: copy(static_cast<const int8_t*>(v.data)); break;
    case ElemType::kU8: copy(static_cast<const uint8_t*>(v.data)); break;
    case ElemType::kI16: copy(static_cast<const int16_t*>(v.data)); break;
    case ElemType::kU16: copy(static_cast<const uint16_t*>(v.data)); break;
    case ElemType::kI32: copy(static_cast<const int32_t*>(v.data)); break;
  }
}

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Bit planes of one row of values: planes[i * kw + k / 64] bit k%64 = bit i of
// value k (two's complement).
void to_bit_planes(const int32_t* values, size_t k, int planes, size_t kw, uint64_t* out,
                   size_t plane_stride) {
  for (int i = 0; i < planes; ++i) std::memset(out + i * plane_stride, 0, kw * 8);
  for (size_t word = 0; word * 64 < k; ++word) {
    const size_t n = std::min<size_t>(64, k - word * 64);
    const int32_t* v = values + word * 64;
    for (int i = 0; i < planes; ++i) {
      uint64_t bits = 0;
      for (size_t t = 0; t < n; ++t)
        bits |= static_cast<uint64_t>((static_cast<uint32_t>(v[t]) >> i) & 1u) << t;
      out[i * plane_stride + word] = bits;
    }
  }
}

// Widemul lane geometry: the most products per multiply such that the middle
// field of the 128-bit product cannot overflow, then the number of products
// that may pile up in the accumulator before the field must be extracted.
struct WideGeometry {
  int lanes, field;
  uint64_t flush_every;
};

int ceil_log2(uint64_t x) {
  int r = 0;
  while ((uint64_t{1} << r) < x) ++r;
  return r;
}

WideGeometry wide_geometry(IntFormat a, IntFormat w) {
  const int prod_bits = a.bits + w.bits;
  int lanes = 1;
  for (int n = 16; n >= 1; --n)
    if (n * (prod_bits + ceil_log2(static_cast<uint64_t>(n))) <= 64) {
      lanes = n;
      break;
    }
  const int field = 64 / lanes;
  const unsigned __int128 pmax =
      static_cast<unsigned __int128>((uint64_t{1} << a.bits) - 1) * ((uint64_t{1} << w.bits) - 1);
  const unsigned __int128 room =
      field >= 64 ? ~static_cast<uint64_t>(0) : (uint64_t{1} << field) - 1;
  unsigned __int128 t = pmax == 0 ? room : room / (pmax * static_cast<unsigned>(lanes));
  if (t < 1) t = 1;
  if (t > 1024) t = 1024;
  return {lanes, field, static_cast<uint64_t>(t)};
}

// The per-target packers handle a view whose element type can hold the
// whole format range (so that a single unsigned comparison checks it).
bool fits_type(ElemType t, IntFormat f) {
  switch (t) {
    case ElemType::kI8: return f.min_value() >= -128 && f.max_value() <= 127;
    case ElemType::kU8: return f.min_value() >= 0 && f.max_value() <= 255;
    case ElemType::kI16: return f.min_value() >= -32768 && f.max_value() <= 32767;
    case ElemType::kU16: return f.min_value() >= 0 && f.max_value() <= 65535;
    case ElemType::kI32: return false;
  }
  return false;
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

}  // namespace

size_t block_width(GemmMethod m) {
  switch (m) {
    case GemmMethod::kBitSerial: return kBitSerialBlock;
    case GemmMethod::kInt8: return kInt8Block;
    case GemmMethod::kInt16: return kInt16Block;
    default: return 1;
  }
}

int64_t activation_bias(GemmMethod m, IntFormat a) {
  switch (m) {
    case GemmMethod::kInt8: return a.is_signed ? a.min_value() : 0;  // to unsigned bytes
    case GemmMethod::kInt16: return (!a.is_signed && a.bits == 16) ? 32768 : 0;
    case GemmMethod::kWideMul: return a.min_value();                    // to unsigned
    default: return 0;
  }
}

int64_t weight_bias(GemmMethod m, IntFormat w) {
  switch (m) {
    case GemmMethod::kInt8: return (!w.is_signed && w.bits == 8) ? 128 : 0;  // to int8
    case GemmMethod::kInt16: return (!w.is_signed && w.bits == 16) ? 32768 : 0;
    case GemmMethod::kWideMul: return w.min_value();
    default: return 0;
  }
}

int64_t max_abs_biased(int64_t bias, IntFormat f) {
  return std::max(std::abs(f.min_value() - bias), std::abs(f.max_value() - bias));
}

void pack_weights_bitserial(const MatrixView& w, PackedWeights& p) {
  const size_t n = w.rows, k = w.cols;
  const int planes = A::w_format(p).bits;
  const size_t kw = ceil_div(k, 64);
  const size_t blocks = ceil_div(n, kBitSerialBlock);
  const size_t block_words = static_cast<size_t>(planes) * kw * kBitSerialBlock;
  A::k_units(p) = kw;
  A::data(p).resize(blocks * block_words);
  std::vector<int32_t> row(k);
  std::vector<uint64_t> col_planes(static_cast<size_t>(planes) * kw);
  uint64_t* dst = A::data(p).data();
  for (size_t col = 0; col < n; ++col) {
    read_row(w, col, row.data());
    to_bit_planes(row.data(), k, planes, kw, col_planes.data(), kw);
    uint64_t* block = dst + (col / kBitSerialBlock) * block_words + col % kBitSerialBlock;
    for (int j = 0; j < planes; ++j)
      for (size_t word = 0; word < kw; ++word)
        block[(j * kw + word) * kBitSerialBlock] = col_planes[j * kw + word];
  }
}

void pack_weights_dot(const MatrixView& w, PackedWeights& p) {
  const bool bytes = A::method(p) == GemmMethod::kInt8;
  const size_t group = bytes ? kInt8Group : kInt16Group;
  const size_t width = bytes ? kInt8Block : kInt16Block;
  const size_t elem = bytes ? 1 : 2;
  const size_t n = w.rows, k = w.cols;
  const size_t units = ceil_div(k, group);
  const size_t blocks = ceil_div(n, width);
  const size_t block_bytes = units * width * group * elem;
  const int64_t bias = A::w_bias(p);
  A::k_units(p) = units;
  A::data(p).resize(ceil_div(blocks * block_bytes, 8));
  A::col_sum(p).assign(n, 0);
  auto* base = reinterpret_cast<uint8_t*>(A::data(p).data());
  std::vector<int32_t> row(k);
  for (size_t col = 0; col < n; ++col) {
    read_row(w, col, row.data());
    uint8_t* block = base + (col / width) * block_bytes + (col % width) * group * elem;
    int64_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) {
      const int64_t v = row[kk] - bias;
      sum += v;
      uint8_t* dst = block + (kk / group) * width * group * elem + (kk % group) * elem;
      if (bytes) {
        *reinterpret_cast<int8_t*>(dst) = static_cast<int8_t>(v);
      } else {
        const int16_t v16 = static_cast<int16_t>(v);
        std::memcpy(dst, &v16, 2);
      }
    }
    A::col_sum(p)[col] = sum;
  }
}

void pack_weights_widemul(const MatrixView& w, PackedWeights& p) {
  const WideGeometry g = wide_geometry(A::a_format(p), A::w_format(p));
  const size_t n = w.rows, k = w.cols;
  const size_t words = ceil_div(k, static_cast<size_t>(g.lanes));
  const int64_t bias = A::w_bias(p);
  A::lanes_per_word(p) = g.lanes;
  A::field_bits(p) = g.field;
  A::k_units(p) = words;
  A::data(p).resize(n * words);
  A::col_sum(p).assign(n, 0);
  std::vector<int32_t> row(k);
  for (size_t col = 0; col < n; ++col) {
    read_row(w, col, row.data());
    uint64_t* dst = A::data(p).data() + col * words;
    int64_t sum = 0;
    for (size_t kk = 0; kk < k; ++kk) {
      const uint64_t v = static_cast<uint64_t>(row[kk] - bias);
      sum += static_cast<int64_t>(v);
      dst[kk / g.lanes] |= v << ((kk % g.lanes) * g.field);
    }
    A::col_sum(p)[col] = sum;
  }
}

void prepare_activations(const MatrixView& a, IntFormat af, const PackedWeights& w,
                         const GemmOptions& options, PackedActivations& out) {
  const GemmMethod method = w.method();
  const size_t m = a.rows, k = a.cols;
  out.bias = activation_bias(method, af);
  out.need_sums = GemmAccess::w_bias(w) != 0;
  out.row_sum.assign(m, 0);
  // Vectorised packers check the range while packing; the scalar ones rely
  // on check_range first.
  out.fast = fits_type(a.type, af) &&
             (method == GemmMethod::kInt16 ? is_word(a.type) : is_byte(a.type)) &&
             method != GemmMethod::kWideMul;
  if (!out.fast) check_range(a, af, "activations");
  out.in_place = false;
  out.trusted = options.trusted_range;
  switch (method) {
    case GemmMethod::kBitSerial:
      out.row_stride = static_cast<size_t>(af.bits) * GemmAccess::k_units(w);
      out.data.reserve_scratch(std::max<size_t>(1, m * out.row_stride));
      break;
    case GemmMethod::kInt8:
    case GemmMethod::kInt16: {
      const bool bytes = method == GemmMethod::kInt8;
      // Unsigned bytes whose rows span whole K quads (K a multiple of 4, or
      // rows zero-padded to their stride) are already the kernel's layout.
      const size_t k4 = ceil_div(k, kInt8Group) * kInt8Group;
      const bool whole_quads = k % kInt8Group == 0 || (options.zero_padded_rows && a.stride >= k4);
      if (out.fast && bytes && out.bias == 0 && !out.need_sums && whole_quads &&
          a.type == ElemType::kU8) {
        out.in_place = true;
        out.rows = a.data;
        out.row_stride = a.stride;
        return;
      }
      out.row_stride = GemmAccess::k_units(w) * 4;  // one 32-bit lane per K unit
      out.data.reserve_scratch(std::max<size_t>(1, ceil_div(m * out.row_stride, 8)));
      break;
    }
    case GemmMethod::kWideMul:
      out.row_stride = GemmAccess::k_units(w);
      out.data.reserve_scratch(std::max<size_t>(1, m * out.row_stride));
      break;
    case GemmMethod::kAuto: fail("swar::gemm", "weights are not packed");
  }
  out.rows = out.data.data();
}

bool pack_activation_rows(const MatrixView& a, IntFormat af, const PackedWeights& w,
                          PackedActivations& out, size_t r0, size_t r1) {
  const GemmMethod method = w.method();
  const size_t k = a.cols;
  if (r0 >= r1) return true;
  switch (method) {
    case GemmMethod::kBitSerial: {
      const size_t kw = GemmAccess::k_units(w);
      uint64_t* dst = out.data.data() + r0 * out.row_stride;
      if (out.fast)
        return byte_planes({row_ptr<uint8_t>(a, r0), a.stride, dst, out.row_stride, r1 - r0, k},
                           byte_spec(af, 0), af.bits, kw);
      std::vector<int32_t> row(k);
      for (size_t r = r0; r < r1; ++r) {
        read_row(a, r, row.data());
        to_bit_planes(row.data(), k, af.bits, kw, out.data.data() + r * out.row_stride, kw);
      }
      return true;
    }
    case GemmMethod::kInt8:
    case GemmMethod::kInt16: {
      const bool bytes = method == GemmMethod::kInt8;
      if (out.in_place)  // only the range check is left to do
        return af.bits == 8 || out.trusted ||
               check_bytes({row_ptr<uint8_t>(a, r0), a.stride, nullptr, 0, r1 - r0, k},
                           byte_spec(af, 0));
      const size_t padded = GemmAccess::k_units(w) * (bytes ? kInt8Group : kInt16Group);
      auto* base = reinterpret_cast<uint8_t*>(out.data.data());
      if (out.fast && bytes)
        return bias_bytes({row_ptr<uint8_t>(a, r0), a.stride, base + r0 * out.row_stride,
                           out.row_stride, r1 - r0, k},
                          byte_spec(af, out.bias), padded,
                          out.need_sums ? &out.row_sum[r0] : nullptr);
      if (out.fast) {
        auto* dst16 = reinterpret_cast<uint16_t*>(base + r0 * out.row_stride);
        const bool ok = bias_words(
            {row_ptr<uint16_t>(a, r0), a.stride, dst16, out.row_stride / 2, r1 - r0, k},
            word_spec(af, out.bias), padded);
        if (out.need_sums)
          for (size_t r = r0; r < r1; ++r) {
            const auto* row16 = dst16 + (r - r0) * (out.row_stride / 2);
            int64_t sum = 0;
            for (size_t i = 0; i < k; ++i) sum += static_cast<int16_t>(row16[i]);
            out.row_sum[r] = sum;
          }
        return ok;
      }
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
        out.row_sum[r] = sum;
      }
      return true;
    }
    case GemmMethod::kWideMul: {
      const int lanes = GemmAccess::lanes_per_word(w), field = GemmAccess::field_bits(w);
      const size_t words = GemmAccess::k_units(w);
      std::vector<int32_t> row(k);
      for (size_t r = r0; r < r1; ++r) {
        read_row(a, r, row.data());
        uint64_t* dst = out.data.data() + r * words;
        std::memset(dst, 0, words * 8);
        int64_t sum = 0;
        for (size_t kk = 0; kk < k; ++kk) {
          const uint64_t v = static_cast<uint64_t>(row[kk] - out.bias);
          sum += static_cast<int64_t>(v);
          // Reversed lane order: the products meet in the middle field.
          dst[kk / lanes] |= v << ((lanes - 1 - static_cast<int>(kk % lanes)) * field);
        }
        out.row_sum[r] = sum;
      }
      return true;
    }
    case GemmMethod::kAuto: break;
  }
  return true;
}

void widemul_kernel(const PackedActivations& a, const PackedWeights& w, size_t m0, size_t m1,
                    size_t c0, size_t c1, int64_t* out, size_t ldo) {
  const WideGeometry g = wide_geometry(w.activation_format(), w.weight_format());
  const size_t words = GemmAccess::k_units(w);
  const int shift = (g.lanes - 1) * g.field;
  const uint64_t mask = g.field >= 64 ? ~uint64_t{0} : (uint64_t{1} << g.field) - 1;
  const uint64_t* wdata = GemmAccess::data(w).data();
  for (size_t r = m0; r < m1; ++r) {
    const uint64_t* arow = a.data.data() + r * a.row_stride;
    for (size_t c = c0; c < c1; ++c) {
      const uint64_t* wcol = wdata + c * words;
      uint64_t total = 0;
      for (size_t q = 0; q < words;) {
        // Products pile up in the 128-bit accumulator; the lower fields stay
        // below 2^field for flush_every steps, so the middle field is exact.
        const size_t end = std::min(words, q + static_cast<size_t>(g.flush_every));
        unsigned __int128 acc = 0;
        for (; q < end; ++q) acc += static_cast<unsigned __int128>(arow[q]) * wcol[q];
        total += static_cast<uint64_t>(acc >> shift) & mask;
      }
      out[(r - m0) * ldo + (c - c0)] = static_cast<int64_t>(total);
    }
  }
}

}  // namespace bitlane::swar::detail
