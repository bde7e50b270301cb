// The CPU banner of benchmark tables: CPUID's signature decoded as Linux
// decodes it, checked on hand-worked values and against /proc/cpuinfo.
#include "core/cpu_info.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

using namespace bitlane;

TEST_CASE("cpu_info: CPUID signatures decode to family, model and stepping") {
  // Hand-worked from the EAX layout: stepping [3:0], model [7:4], family
  // [11:8], extended model [19:16], extended family [27:20].
  struct Case {
    uint32_t eax;
    unsigned family, model, stepping;
  };
  for (const Case& c : {Case{0x00A10F11, 25, 17, 1},    // AMD Zen 4 (Genoa): family 0xF + 0xA, model 0x11
                        Case{0x00B00F21, 26, 2, 1},     // AMD Zen 5: family 0xF + 0xB, model 0x02
                        Case{0x000806F8, 6, 143, 8},    // Intel Sapphire Rapids: family 6, model 0x8F
                        Case{0x00000F4A, 15, 4, 10},    // family 15 without extension, model 4
                        Case{0x00010E59, 14, 21, 9}}) {  // family 14: no extended family, but model 0x15
    CAPTURE(c.eax);
    const X86Signature s = decode_x86_signature(c.eax);
    CHECK(s.family == c.family);
    CHECK(s.model == c.model);
    CHECK(s.stepping == c.stepping);
  }
}

TEST_CASE("cpu_info: the signature and the description name the CPU as /proc/cpuinfo does") {
  const CpuInfo& cpu = cpu_info();
  const std::string d = cpu_description();
  CHECK(d.rfind(cpu.model, 0) == 0);
  CHECK(d.find("L1d ") != std::string::npos);
  if (cpu.arch != "x86_64") return;
  // Linux's own decoding of the same CPUID leaf, where /proc/cpuinfo exists.
  std::ifstream in("/proc/cpuinfo");
  std::string line, family, model, stepping;
  auto value = [&](const char* key, std::string& out) {
    if (out.empty() && line.rfind(key, 0) == 0 && line.find(':') != std::string::npos)
      out = line.substr(line.find(':') + 2);
  };
  while (std::getline(in, line) && (family.empty() || model.empty() || stepping.empty())) {
    value("cpu family\t", family);
    value("model\t", model);
    value("stepping\t", stepping);
  }
  if (family.empty() || model.empty() || stepping.empty()) {
    MESSAGE("no family, model and stepping in /proc/cpuinfo; only the decoding table is checked");
    return;
  }
  CHECK(cpu.signature == "family " + family + " model " + model + " stepping " + stepping);
  CHECK(d.find(cpu.signature) != std::string::npos);
}
