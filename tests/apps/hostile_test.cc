// tests/data/hostile/: every class of hostile input produces its exact error,
// naming the file, with a non-zero exit; a decompression bomb is refused
// under a small memory limit; a full disk leaves no output file behind.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/apps/cli_helpers.h"
#include "tests/test_paths.h"

using namespace bitlane::test;

namespace {

const std::string kHostile = source_path("tests/data/hostile");
const std::string kValid = kHostile + "/models/valid/model.json";

}  // namespace

TEST_CASE("hostile corpus: each case gives its exact error, naming the file, and exit 1") {
  const auto cases = nlohmann::json::parse(slurp(kHostile + "/cases.json")).at("cases");
  REQUIRE(cases.size() >= 15);
  for (const auto& c : cases) {
    const std::string path = c.at("path");
    const std::string names = c.value("names", path);
    const std::string want = names + ": " + c.at("error").get<std::string>();
    // Paths relative to the corpus, so messages do not depend on the checkout.
    const std::string cd = "cd " + kHostile + " && ";
    const Result r = c.at("command") == "info" ? cli("info " + path, cd)
                                               : cli("run --threads 2 " + kValid + " " + path, cd);
    INFO("case " << path << "\nstderr: " << r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(want) != std::string::npos);
    CHECK(r.err.find("terminate") == std::string::npos);  // never an escaped exception
  }
}

TEST_CASE("hostile corpus: the valid model of the corpus does load and run") {
  // Guards the corpus itself: the broken models differ from this one by one defect.
  const Result r = cli("run " + kValid + " " + source_path("models/data/images/bag/1014.png"));
  CHECK(r.status == 0);
  CHECK(r.out.find("1014.png,") != std::string::npos);
}

TEST_CASE("decompression bombs are refused under a 1 GiB address-space limit") {
  // Sanitizers reserve terabytes of shadow memory: an address-space cap
  // only means something in plain builds.
  if (under_sanitizer()) return;
  // 2^40 declared weight elements (4 TiB) and a 100000 x 100000 PNG (30 GB):
  // refused from their headers, so the capped process never gets near the cap.
  const std::string cap = "ulimit -v 1048576; ";
  Result r = cli("info " + kHostile + "/models/shape-2-40/model.json", cap);
  CHECK(r.status == 1);
  CHECK(r.err.find("exceeds the limit") != std::string::npos);
  r = cli("run --threads 1 " + kValid + " " + kHostile + "/images/lying-header.png", cap);
  CHECK(r.status == 1);
  CHECK(r.err.find("100000x100000 pixels exceeds the limit") != std::string::npos);
  // The same cap leaves room for real work: the limit is not what refused them.
  r = cli("run --threads 1 " + kValid + " " + source_path("models/data/images/bag"), cap);
  CHECK(r.status == 0);
}

TEST_CASE("limits are adjustable from the command line") {
  // A 28 x 28 image is 784 pixels: under --max-image-pixels 700 it is refused.
  const std::string image = source_path("models/data/images/bag/1014.png");
  Result r = cli("run --max-image-pixels 700 " + kValid + " " + image);
  CHECK(r.status == 1);
  CHECK(r.err.find("1014.png: image of 28x28 pixels exceeds the limit of 700 pixels") != std::string::npos);
  r = cli("run --max-image-pixels 784 " + kValid + " " + image);
  CHECK(r.status == 0);
}

TEST_CASE("a full disk: write error, exit 1, and no output file (not even a partial one)") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bitlane_full_disk_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "labels.csv";
  // A 1 KiB file-size limit with SIGXFSZ ignored: writes past it fail with
  // EFBIG, as they would with ENOSPC on a full disk.
  const Result r = cli("run " + kValid + " " + source_path("models/data/images") + " -o " + out.string(),
                       "trap '' XFSZ; ulimit -f 2; ");
  INFO("stderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find(out.string() + ": write error") != std::string::npos);
  CHECK(!fs::exists(out));
  CHECK(fs::is_empty(dir));  // the temporary file is gone too
  fs::remove_all(dir);
}

TEST_CASE("a FIFO named like an image is refused, not waited on") {
  // Opening a FIFO for reading blocks until a writer comes; bitlane must
  // name it and go on (the test would hang, and time out, otherwise).
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bitlane_fifo_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path fifo = dir / "pipe.png";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  fs::copy_file(source_path("models/data/images/bag/1014.png"), dir / "real.png");
  for (const std::string& input : {dir.string(), fifo.string()}) {
    const Result r = cli("run " + kValid + " " + input);
    INFO("stderr: " << r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find(fifo.string() + ": not a regular file (a device, pipe or socket)") != std::string::npos);
  }
  const Result r = cli("run " + kValid + " " + dir.string());
  CHECK(parse_csv(r.out).size() == 1 + 1);  // real.png still classified
  fs::remove_all(dir);
}
