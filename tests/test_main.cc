// The doctest main of every test suite, with one guard: CTest runs each test
// case alone by its name (doctest_discover_tests), and a name that CMake
// mangles (a ';' ends it) matches nothing -- a run that would pass without
// checking anything. So a run filtered by --test-case that ran no test case
// fails, naming the filter.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int test_cases_run = 0;

struct RunCounter : doctest::IReporter {
  explicit RunCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++test_cases_run; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("run-counter", 1, RunCounter);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit()) return rc;
  std::string filter;
  for (int i = 1; i < argc; ++i)
    for (const char* flag : {"--test-case=", "-tc="})
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) filter = argv[i] + std::strlen(flag);
  if (!filter.empty() && test_cases_run == 0) {
    std::fprintf(stderr, "no test case matches '%s' (a name with ';' is cut there by CMake)\n", filter.c_str());
    return 1;
  }
  return rc;
}
