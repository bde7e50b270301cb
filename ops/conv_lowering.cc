#include "ops/conv_lowering.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/scratch.h"
#include "ops/kernels/spread_pixels.h"

namespace bitlane::ops::conv {

// The masked-word copies below keep the first bytes of a word.
static_assert(std::endian::native == std::endian::little, "bitlane assumes a little-endian CPU");

void im2col(const float* x, const Geometry& geo, int64_t r0, int64_t r1, int64_t c0, int64_t cg, float* cols,
            int64_t ld) {
  // Locals, not geo's fields: stores to `cols` could alias them otherwise.
  const int64_t c = geo.c, h = geo.h, w = geo.w, kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw;
  const int64_t dh = geo.dh, dw = geo.dw, pt = geo.pt, pl = geo.pl, oh = geo.oh, ow = geo.ow;
  const int64_t k = cg * kh * kw;
  const bool whole_rows = dw == 1 && cg == c;  // a kernel row's pixels are adjacent, all channels taken
  const int64_t run = kw * c;                  // then floats per kernel row
  // (n, oy, ox) of row r0, then stepped: three divisions per row cost more
  // than copying a row.
  int64_t n = r0 / (oh * ow), oy = r0 / ow % oh, ox = r0 % ow;
  for (int64_t r = r0; r < r1; ++r, ++ox) {
    if (ox == ow) {
      ox = 0;
      if (++oy == oh) oy = 0, ++n;
    }
    float* row = cols + (r - r0) * ld;
    for (int64_t i = k; i < ld; ++i) row[i] = 0.f;
    for (int64_t i = 0; i < kh; ++i) {
      const int64_t y = oy * sh - pt + i * dh, x0 = ox * sw - pl;
      if (whole_rows && y >= 0 && y < h && x0 >= 0 && x0 + kw <= w) {
        // The kernel row inside the image: its kw pixels' channels are one
        // run of the NHWC input (a third of the float call went to copying
        // them channel run by channel run). Short runs (LeNet's first layer:
        // 5 floats) by a loop, which costs less than a memcpy call.
        const float* src = x + ((n * h + y) * w + x0) * c;
        if (run >= 32) std::memcpy(row, src, static_cast<size_t>(run) * sizeof(float));
        else for (int64_t t = 0; t < run; ++t) row[t] = src[t];
        row += run;
        continue;
      }
      for (int64_t j = 0; j < kw; ++j, row += cg) {
        const int64_t xx = ox * sw - pl + j * dw;
        // Plain loops: runs of a few channels would pay for a memmove call.
        if (y < 0 || y >= h || xx < 0 || xx >= w) {
          for (int64_t t = 0; t < cg; ++t) row[t] = 0.f;
        } else {
          const float* src = x + ((n * h + y) * w + xx) * c + c0;
          for (int64_t t = 0; t < cg; ++t) row[t] = src[t];
        }
      }
    }
  }
}

void to_channels_last(const float* x, int64_t n, int64_t c, int64_t plane, float* out) {
  for (int64_t b = 0; b < n; ++b)
    transpose<Activation::kNone>(x + b * c * plane, c, plane, plane, out + b * c * plane, c);
}

PaddedInput padded_input(const Geometry& g, int64_t bottom, int64_t right, int64_t cp, size_t es, int32_t pad,
                         bool fold_kw) {
  PaddedInput p{g, cp, es, pad, fold_kw};
  p.gp.h = g.h + g.pt + bottom;
  p.gp.w = g.w + g.pl + right;
  p.gp.c = cp;
  p.gp.pt = p.gp.pl = 0;
  if (fold_kw) {
    p.gp.w -= (g.kw - 1) * g.dw;
    p.gp.kw = 1;
  }
  return p;
}

namespace {

// `count` elements of the padding value (es bytes each). Runs of a few
// pixels (a padded row's sides: 16-64 bytes) in 8-byte words, the last one
// overlapping: a memset call per run cost more than the bytes.
void fill_pad(uint8_t* d, int64_t count, size_t es, int32_t pad) {
  const size_t bytes = static_cast<size_t>(count) * es;
  if (es == 1 && bytes > 128) {
    std::memset(d, static_cast<uint8_t>(pad), bytes);
    return;
  }
  const uint64_t word = es == 1 ? uint64_t{static_cast<uint8_t>(pad)} * 0x0101010101010101ull
                                : uint64_t{static_cast<uint16_t>(pad)} * 0x0001000100010001ull;
  if (bytes >= 8) {
    for (size_t i = 0; i + 8 < bytes; i += 8) std::memcpy(d + i, &word, 8);
    std::memcpy(d + bytes - 8, &word, 8);  // 8-byte aligned pattern: es divides bytes - 8
    return;
  }
  for (size_t i = 0; i < bytes; ++i) d[i] = static_cast<uint8_t>(word >> (8 * (i % 8)));
}

// The byte shuffle of a padded row's pixels, where one applies (unit 0
// where not): a folded pixel's kw * c bytes in 4 or 8 (fold_kw), or a
// pixel's c < cp = 4 or 8 byte channels.
detail::PixelSpread row_spread(const Geometry& g, const PaddedInput& p) {
  const auto c = static_cast<size_t>(g.c), unit = static_cast<size_t>(p.cp);
  if (p.es != 1 || (unit != 4 && unit != 8)) return {};
  if (p.fold_kw) return detail::pixel_spread(c, static_cast<size_t>(g.kw) * c, unit);
  return c < unit ? detail::pixel_spread(c, c, unit) : detail::PixelSpread{};
}

// Row yy of the padded image (wp pixels of cp channels): the padding
// value in the c real channels of padding pixels, integer 0 in channels
// beyond c, the source row in between. `spread`: row_spread's for cp
// channels, or none.
void pad_row(const Geometry& g, const PaddedInput& p, int64_t cp, int64_t wp, int64_t yy, const uint8_t* src,
             const detail::PixelSpread& spread, uint8_t* d) {
  const int64_t c = g.c, w = g.w, sy = yy - g.pt;
  const size_t es = p.es, prow = static_cast<size_t>(wp * cp) * es;
  const bool inside = sy >= 0 && sy < g.h;
  if (cp == c) {
    if (!inside) {
      fill_pad(d, wp * c, es, p.pad);
      return;
    }
    const size_t left = static_cast<size_t>(g.pl * c) * es, row = static_cast<size_t>(w * c) * es;
    fill_pad(d, g.pl * c, es, p.pad);
    std::memcpy(d + left, src + static_cast<size_t>(sy * w * c) * es, row);
    fill_pad(d + left + row, (wp - g.pl - w) * c, es, p.pad);
    return;
  }
  if (spread.unit != 0) {  // a few byte channels padded to 4 or 8 (LeNet's conv2: 6 in 8): shuffled
    const uint64_t mask = (uint64_t{1} << (8 * c)) - 1;  // c < cp <= 8; little-endian: the first c bytes
    const uint64_t pad_word = (uint64_t{static_cast<uint8_t>(p.pad)} * 0x0101010101010101ull) & mask;
    const size_t unit = spread.unit;
    auto pad_pixels = [&](int64_t x0, int64_t x1) {  // constant-size copies: no memcpy call per pixel
      if (unit == 8)
        for (int64_t xx = x0; xx < x1; ++xx) std::memcpy(d + xx * 8, &pad_word, 8);
      else
        for (int64_t xx = x0; xx < x1; ++xx) std::memcpy(d + xx * 4, &pad_word, 4);
    };
    if (!inside) {
      pad_pixels(0, wp);
      return;
    }
    pad_pixels(0, g.pl);
    detail::spread_pixels(spread, src + static_cast<size_t>(sy * w * c), static_cast<size_t>(w),
                          d + static_cast<size_t>(g.pl) * unit);
    pad_pixels(g.pl + w, wp);
    return;
  }
  std::memset(d, 0, prow);
  for (int64_t xx = 0; xx < wp; ++xx)
    if (!inside || xx < g.pl || xx >= g.pl + w) fill_pad(d + static_cast<size_t>(xx * cp) * es, c, es, p.pad);
  if (!inside) return;
  const uint8_t* s = src + static_cast<size_t>(sy * w * c) * es;
  uint8_t* o = d + static_cast<size_t>(g.pl * cp) * es;
  if (c == 1 && es == 1) {  // one channel: zero-extended bytes (vectorizes)
    for (int64_t xx = 0; xx < w; ++xx) o[xx * cp] = s[xx];
  } else {
    for (int64_t xx = 0; xx < w; ++xx)
      std::memcpy(o + static_cast<size_t>(xx * cp) * es, s + static_cast<size_t>(xx * c) * es,
                  static_cast<size_t>(c) * es);
  }
}

void pad_image(const Geometry& g, const PaddedInput& p, const detail::PixelSpread& spread, const uint8_t* src,
               uint8_t* dst) {
  const size_t prow = static_cast<size_t>(p.gp.w * p.cp) * p.es;
  for (int64_t yy = 0; yy < p.gp.h; ++yy)
    pad_row(g, p, p.cp, p.gp.w, yy, src, spread, dst + static_cast<size_t>(yy) * prow);
}

// fold_kw: each padded row first (c channels), then pixel x of the folded
// row is the run of kw * c integers from pixel x, zeros up to cp (by
// `fold`, row_spread's, where it applies).
void fold_image(const Geometry& g, const PaddedInput& p, const detail::PixelSpread& fold, const uint8_t* src,
                uint8_t* dst) {
  const size_t es = p.es;
  const int64_t out_w = p.gp.w, wp = out_w + (g.kw - 1) * g.dw;  // wp: the padded width before folding
  thread_local std::vector<uint8_t> row;
  grow_scratch(row, static_cast<size_t>(wp * g.c) * es + detail::kScratchSlack);
  const size_t run = static_cast<size_t>(g.kw * g.c) * es, unit = static_cast<size_t>(p.cp) * es;
  const detail::PixelSpread no_spread;  // the row keeps its c channels
  for (int64_t yy = 0; yy < p.gp.h; ++yy) {
    uint8_t* d = dst + static_cast<size_t>(yy * out_w) * unit;
    if (fold.unit != 0) {  // few byte channels (LeNet's 5 x 1, a 3 x 1 stem): padded as pad_row does
      const int64_t sy = yy - g.pt;
      const bool inside = sy >= 0 && sy < g.h;
      const size_t bytes = inside ? static_cast<size_t>(g.w * g.c) : 0;
      detail::spread_padded_row(fold, src + (inside ? static_cast<size_t>(sy) * bytes : 0), bytes,
                                inside ? static_cast<size_t>(g.pl * g.c) : 0, static_cast<size_t>(wp * g.c),
                                static_cast<uint8_t>(p.pad), static_cast<size_t>(out_w), row.data(), d);
      continue;
    }
    pad_row(g, p, g.c, wp, yy, src, no_spread, row.data());
    for (int64_t x = 0; x < out_w; ++x) {
      std::memcpy(d + static_cast<size_t>(x) * unit, row.data() + static_cast<size_t>(x * g.c) * es, run);
      std::memset(d + static_cast<size_t>(x) * unit + run, 0, unit - run);
    }
  }
}

}  // namespace

void pad_images(const Executor& ex, const Geometry& g, const PaddedInput& p,
                const std::function<const uint8_t*(int64_t)>& image, uint8_t* dst) {
  const size_t bytes = p.image_bytes();
  const detail::PixelSpread spread = row_spread(g, p);
  auto images = [&](size_t b, size_t e) {
    for (size_t n = b; n < e; ++n) {
      if (p.fold_kw)
        fold_image(g, p, spread, image(static_cast<int64_t>(n)), dst + n * bytes);
      else
        pad_image(g, p, spread, image(static_cast<int64_t>(n)), dst + n * bytes);
    }
  };
  // Small tensors stay on the calling thread: a task costs more than the copy.
  const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / std::max<size_t>(1, bytes));
  ex.parallel_for(static_cast<size_t>(g.n), grain, images);
}

namespace {

// Copies n elements in whole blocks of 8, 16 or 32 bytes (the smallest that
// keeps the block count low): up to 31 bytes past the end of both runs are
// read and written (see Unfold).
template <typename T>
inline void copy_blocks(T* dst, const T* src, int64_t n) {
  auto* d = reinterpret_cast<uint8_t*>(dst);
  const auto* s = reinterpret_cast<const uint8_t*>(src);
  const int64_t bytes = n * static_cast<int64_t>(sizeof(T));
  if (bytes <= 8) {
    std::memcpy(d, s, 8);
  } else if (bytes <= 16) {
    std::memcpy(d, s, 16);
  } else {
    for (int64_t b = 0; b < bytes; b += 32) std::memcpy(d + b, s + b, 32);
  }
}

template <typename T>
void unfold_rows(const Unfold& u, const T* src_image, size_t r0, size_t r1, T* dst, size_t stride) {
  // Locals: the stores below could alias the geometry otherwise.
  const Geometry& g = *u.gp;
  const int64_t C = g.c, H = g.h, W = g.w, kh = g.kh, kw = g.kw, sh = g.sh, sw = g.sw;
  const int64_t dh = g.dh, dw = g.dw, ow = g.ow, oh = g.oh;
  const int64_t group_c0 = u.c0, group_cg = u.cg, k = group_cg * kh * kw, k4 = (k + 3) / 4 * 4;
  // A kernel row's kw positions are one contiguous run when they cover all
  // channels and sit next to each other.
  const bool runs = group_cg == C && dw == 1;
  const int64_t run = kw * group_cg;
  // Output position of row r0, then stepped along (no divisions per row).
  int64_t n = static_cast<int64_t>(r0) / (oh * ow), p = static_cast<int64_t>(r0) % (oh * ow);
  int64_t oy = p / ow, ox = p % ow;
  for (size_t r = r0; r < r1; ++r) {
    T* row = dst + (r - r0) * stride;
    const T* at = src_image + ((n * H + oy * sh) * W + ox * sw) * C + group_c0;
    for (int64_t i = 0; i < kh; ++i) {
      const T* src = at + i * dh * W * C;
      if (runs) {
        copy_blocks(row + i * run, src, run);
      } else {
        for (int64_t j = 0; j < kw; ++j) copy_blocks(row + i * run + j * group_cg, src + j * dw * C, group_cg);
      }
    }
    for (int64_t t = k; t < k4; ++t) row[t] = T{0};
    if (++ox == ow) {
      ox = 0;
      if (++oy == oh) oy = 0, ++n;
    }
  }
}

}  // namespace

void Unfold::produce(void* ctx, size_t r0, size_t r1, void* dst, size_t stride) {
  const auto* u = static_cast<const Unfold*>(ctx);
  if (u->es == 1)
    unfold_rows(*u, static_cast<const uint8_t*>(u->x), r0, r1, static_cast<uint8_t*>(dst), stride);
  else
    unfold_rows(*u, static_cast<const int16_t*>(u->x), r0, r1, static_cast<int16_t*>(dst), stride);
}

const int64_t* gather_row_offsets(const Geometry& g, const Geometry& gp, int64_t c4) {
  // A few geometries per thread (one per convolution of a model, typically),
  // the least recently used one replaced. The batch size is not part of the
  // key: the offsets of n images begin those of more (a session's micro-
  // batches differ in size, and alternating sizes evicted every entry).
  struct Entry {
    std::array<int64_t, 7> key{};
    std::vector<int64_t> offsets;
    uint64_t used = 0;
  };
  thread_local std::array<Entry, 16> cache;
  thread_local uint64_t clock = 0;
  const std::array<int64_t, 7> key{gp.h, gp.w, g.oh, g.ow, g.sh, g.sw, c4};
  const size_t rows = static_cast<size_t>(g.n * g.oh * g.ow);
  Entry* e = nullptr;
  for (Entry& c : cache)
    if (c.key == key && !c.offsets.empty()) e = &c;
  if (e && e->offsets.size() >= rows) {
    e->used = ++clock;
    return e->offsets.data();
  }
  if (!e) {
    e = &cache[0];
    for (Entry& c : cache)
      if (c.used < e->used) e = &c;
  }
  e->key = key;
  e->used = ++clock;
  e->offsets.resize(static_cast<size_t>(g.n * g.oh * g.ow));
  size_t r = 0;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) e->offsets[r++] = ((n * gp.h + oy * g.sh) * gp.w + ox * g.sw) * c4;
  return e->offsets.data();
}

}  // namespace bitlane::ops::conv
