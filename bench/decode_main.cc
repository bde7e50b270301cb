// bitlane_decode: the per-image costs of `bitlane run` before inference, on a
// folder of images -- reading a file (alone, and in batches of 32 as the
// CLI does, apps/file_batch.h), decoding its PNG through libpng alone
// and through decode_png (the direct reader for common files, libpng for the
// rest), and preprocessing -- in one run, so the ratios hold on a noisy
// machine (bench/README.md, folder_bench.sh).
//
//   build/release/bench/bitlane_decode [--folder models/data/images] [--min-time 0.5]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#if BITLANE_BENCH_FILE_BATCH
#include "apps/input_files.h"
#endif

#include "runtime/image/decoders.h"
#include "runtime/image/image.h"
#include "runtime/safetensors.h"
#include "timing.h"

namespace {

using bitlane::bench::time_calls;

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options opts("bitlane_decode", "per-image read, PNG decode and preprocessing costs on a folder");
  opts.add_options()("folder", "folder of images (searched recursively)",
                     cxxopts::value<std::string>()->default_value("models/data/images"))(
      "min-time", "seconds per measurement", cxxopts::value<double>()->default_value("0.5"))("h,help", "show help");
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", opts.help().c_str());
    return 0;
  }
  const std::string folder = args["folder"].as<std::string>();
  const double min_time = args["min-time"].as<double>();
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(folder, ec); !ec && it != decltype(it)(); it.increment(ec))
    if (it->is_regular_file()) paths.push_back(it->path().string());
  if (ec || paths.empty()) {
    std::fprintf(stderr, "bitlane_decode: no files under '%s'%s\n", folder.c_str(), ec ? (": " + ec.message()).c_str() : "");
    return 2;
  }
  std::vector<std::vector<uint8_t>> pngs;
  for (const std::string& p : paths) {
    std::vector<uint8_t> b = bitlane::read_file(p);
    if (b.size() > 8 && b[0] == 0x89 && b[1] == 'P') pngs.push_back(std::move(b));
  }
  if (pngs.empty()) {
    std::fprintf(stderr, "bitlane_decode: no PNG files under '%s'\n", folder.c_str());
    return 2;
  }
  bitlane::Preprocessing pre;  // 28x28 gray, as the bundled models
  pre.height = pre.width = 28;
  pre.mean = {0.f};
  pre.std = {1.f};
  std::vector<float> out(28 * 28);

  double sink = 0;
  auto per_png = [&](auto decode) {
    return time_calls([&] { for (const auto& b : pngs) sink += decode(b).pixels[0]; }, min_time).median_s /
           static_cast<double>(pngs.size()) * 1e6;
  };
  const double libpng = per_png([](const std::vector<uint8_t>& b) { return bitlane::decode_png_libpng(b, "x.png"); });
  const double direct = per_png([](const std::vector<uint8_t>& b) { return bitlane::decode_png(b, "x.png"); });
  const double read = time_calls([&] { for (const auto& p : paths) sink += static_cast<double>(bitlane::read_file(p).size()); },
                                 min_time).median_s / static_cast<double>(paths.size()) * 1e6;
#if BITLANE_BENCH_FILE_BATCH
  // As bitlane run reads: the files listed by its own walk (regular files
  // known from their directory entries, sizes not looked up), batches of 32
  // per reader. A listing that did not mark files regular would send every
  // file to read_file and time that twice.
  const std::vector<bitlane::cli::InputFile> listed = bitlane::cli::collect_inputs({folder}).files;
  bitlane::cli::FileBatchReader reader;
  const bool batched = reader.batched();
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<size_t> got;
  const double batch_read = time_calls([&] {
    for (size_t b0 = 0; b0 < listed.size(); b0 += 32) {
      const size_t b1 = std::min(listed.size(), b0 + 32);
      reader.read(listed, b0, b1, bytes, got);
      for (size_t i = 0; i < got.size(); ++i)
        sink += static_cast<double>(got[i] ? got[i] : bitlane::read_file(listed[b0 + i].path).size());
    }
  }, min_time).median_s / static_cast<double>(listed.size()) * 1e6;
#endif
  const bitlane::Image img = bitlane::decode_png(pngs[0], "x.png");
  const double prep = time_calls([&] { bitlane::preprocess(img, pre, out.data()); sink += out[0]; }, min_time).median_s * 1e6;

  std::printf("| step (%zu files, %zu PNG) | us per image | vs libpng decode |\n|---|---:|---:|\n", paths.size(),
              pngs.size());
  std::printf("| read_file (page cache warm) | %.2f | - |\n", read);
#if BITLANE_BENCH_FILE_BATCH
  std::printf("| batches of 32 (%s) | %.2f | %.2fx faster than read_file |\n",
              batched ? "io_uring" : "io_uring unavailable: read_file", batch_read, read / batch_read);
#endif
  std::printf("| PNG decode, libpng alone | %.2f | 1.00x |\n", libpng);
  std::printf("| PNG decode, decode_png (direct reader where it applies) | %.2f | %.2fx faster |\n", direct, libpng / direct);
  std::printf("| preprocess (%lldx%lld -> 28x28 gray) | %.2f | - |\n", static_cast<long long>(img.width),
              static_cast<long long>(img.height), prep);
  return sink == 42.4242 ? 1 : 0;  // keeps the work observable
}
