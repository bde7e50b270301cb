// A scalar model of the AMX instructions the amx method uses, from their
// documented semantics (Intel SDM, "Intel AMX"): LDTILECFG (palette 1:
// bytes per row and rows per tile), TILELOADD / TILESTORED (rows at a byte
// stride; a load zeroes what lies beyond the configured shape), TILEZERO,
// TDPBUSD (C[m][n] += sum over k, i of u8 A[m][4k+i] * s8 B[k][4n+i], int32
// wrapping) and TILERELEASE. Shape rules the hardware enforces with #UD
// (unconfigured tiles, mismatched operands, tiles used twice in one TDPBUSD)
// throw here, so a test on any CPU catches a kernel the hardware would reject.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "swar/kernels/amx_tiles.h"

namespace bitlane::test {

struct EmulatedTiles {
  struct State {
    swar::detail::AmxTileConfig cfg;
    bool configured = false;
    uint8_t tile[8][16][64] = {};
    size_t loads = 0, products = 0;  // instruction counts, for the tests
  };
  static State& state() {
    thread_local State s;
    return s;
  }
  [[noreturn]] static void fault(const std::string& what) { throw std::logic_error("AMX emulator: " + what); }

  static void configure(const swar::detail::AmxTileConfig& c) {
    if (c.palette != 1) fault("palette " + std::to_string(c.palette) + " (only 1 exists)");
    if (c.start_row != 0) fault("start_row must be 0");
    for (int t = 0; t < 16; ++t) {
      if (t >= 8 && (c.rows[t] || c.colsb[t])) fault("tile " + std::to_string(t) + " does not exist");
      if (c.rows[t] > 16 || c.colsb[t] > 64) fault("tile " + std::to_string(t) + " larger than 16 x 64 bytes");
      if ((c.rows[t] == 0) != (c.colsb[t] == 0)) fault("tile " + std::to_string(t) + " half configured");
    }
    State& s = state();
    s.cfg = c;
    s.configured = true;
    std::memset(s.tile, 0, sizeof s.tile);  // LDTILECFG zeroes the tiles
  }
  static void release() { state().configured = false; }

  template <int N>
  static void check_tile() {
    static_assert(N >= 0 && N < 8);
    const State& s = state();
    if (!s.configured) fault("tile instruction without LDTILECFG");
    if (s.cfg.rows[N] == 0) fault("tile " + std::to_string(N) + " not configured");
  }
  template <int N>
  static void load(const void* p, size_t stride) {
    check_tile<N>();
    State& s = state();
    ++s.loads;
    std::memset(s.tile[N], 0, sizeof s.tile[N]);
    for (size_t r = 0; r < s.cfg.rows[N]; ++r)
      std::memcpy(s.tile[N][r], static_cast<const uint8_t*>(p) + r * stride, s.cfg.colsb[N]);
  }
  template <int N>
  static void store(void* p, size_t stride) {
    check_tile<N>();
    const State& s = state();
    for (size_t r = 0; r < s.cfg.rows[N]; ++r)
      std::memcpy(static_cast<uint8_t*>(p) + r * stride, s.tile[N][r], s.cfg.colsb[N]);
  }
  template <int N>
  static void zero() {
    check_tile<N>();
    std::memset(state().tile[N], 0, sizeof state().tile[N]);
  }
  template <int C, int A, int B>
  static void dpbusd() {
    check_tile<C>();
    check_tile<A>();
    check_tile<B>();
    static_assert(C != A && C != B && A != B, "TDPBUSD needs three distinct tiles");
    State& s = state();
    const auto& cfg = s.cfg;
    if (cfg.colsb[C] % 4 || cfg.colsb[A] % 4 || cfg.colsb[B] % 4) fault("TDPBUSD rows not whole dwords");
    if (cfg.rows[A] != cfg.rows[C]) fault("TDPBUSD: A and C rows differ");
    if (cfg.colsb[B] != cfg.colsb[C]) fault("TDPBUSD: B and C row bytes differ");
    if (cfg.colsb[A] / 4 != cfg.rows[B]) fault("TDPBUSD: A's K quads != B's rows");
    ++s.products;
    for (size_t m = 0; m < cfg.rows[C]; ++m)
      for (size_t n = 0; n < cfg.colsb[C] / 4u; ++n) {
        uint32_t acc;
        std::memcpy(&acc, &s.tile[C][m][4 * n], 4);
        for (size_t k = 0; k < cfg.rows[B]; ++k)
          for (size_t i = 0; i < 4; ++i)
            acc += static_cast<uint32_t>(int32_t{s.tile[A][m][4 * k + i]} *
                                         int32_t{static_cast<int8_t>(s.tile[B][k][4 * n + i])});
        std::memcpy(&s.tile[C][m][4 * n], &acc, 4);
      }
  }
};

}  // namespace bitlane::test
