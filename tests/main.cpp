// SPDX-License-Identifier: Apache-2.0
// tests/main.cpp — Catch2's runner for every test binary. Catch exits with the number of failed
// assertions (at most 255); exactly 4 would read as ctest's SKIP_RETURN_CODE, which our tests
// keep for skipping loudly (std::exit(4) after printing SKIPPED), so a failure exits 1.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv) == 0 ? 0 : 1; }
