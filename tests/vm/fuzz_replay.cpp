// SPDX-License-Identifier: Apache-2.0
// tests/vm/fuzz_replay.cpp — replays the host-input fuzzers' seeds and saved findings without
// libFuzzer.
//
//   vm_fuzz_replay [-v] [-t SECONDS] DIR...
//
// Every regular file under each DIR goes through the fuzz body (tests/vm/fuzzer/fuzz_one.hpp)
// named by the directory it lies in: .../kernel/X through the kernel body, .../snapshot/X,
// .../modinfo/X, .../cpio/X likewise (tests/vm/fuzzer/seeds/TARGET/, tests/vm/fuzz/TARGET/). Built
// with -fsanitize=address,undefined, so a regression is a sanitizer report.
//
// Exit status: 0 every input ran (a refusal with the reader's error type is fine); 1 an input
// threw another exception, ran longer than -t SECONDS (default 30: a hang), or no input was
// found; 2 bad usage. A crash or sanitizer report ends the process, after naming the input.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzzer/fuzz_one.hpp"

namespace fs = std::filesystem;

extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {
std::string current;
void say(const char* what) {
  [[maybe_unused]] ssize_t r = ::write(2, "vm_fuzz_replay: ", 16);
  r = ::write(2, current.data(), current.size());
  r = ::write(2, what, std::strlen(what));
}
void on_death() { say(": crashed (see the report)\n"); }
void on_alarm(int) {
  say(": timed out (a hang)\n");
  ::_exit(1);
}
}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  unsigned timeout = 30;
  std::vector<fs::path> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "-t" && i + 1 < argc) timeout = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "usage: vm_fuzz_replay [-v] [-t SECONDS] DIR...\n";
      return 2;
    } else roots.emplace_back(a);
  }
  if (roots.empty()) {
    std::cerr << "usage: vm_fuzz_replay [-v] [-t SECONDS] DIR...\n";
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& root : roots) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;  // the findings directory may not exist yet
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && it->path().filename().string()[0] != '.') files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "vm_fuzz_replay: no inputs found under the directories given\n";
    return 1;
  }
  std::signal(SIGALRM, on_alarm);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(on_death);
  int failed = 0, per_target[5] = {};
  for (const auto& f : files) {
    current = f.string();
    const std::string target = f.parent_path().filename().string();
    const auto body = crumble::vm::fuzz::body(target);
    if (!body) {
      std::cerr << "vm_fuzz_replay: " << current << ": not under a directory named for a target (kernel, snapshot, modinfo, cpio, channel)\n";
      ++failed;
      continue;
    }
    ++per_target[target == "kernel" ? 0 : target == "snapshot" ? 1 : target == "modinfo" ? 2 : target == "cpio" ? 3 : 4];
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (verbose) std::cerr << "vm_fuzz_replay: " << current << "\n";
    ::alarm(timeout);
    try {
      body(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::cerr << "vm_fuzz_replay: " << current << ": unexpected exception: " << e.what() << "\n";
      ++failed;
    }
    ::alarm(0);
  }
  std::cout << "vm_fuzz_replay: " << files.size() << " inputs (kernel " << per_target[0] << ", snapshot " << per_target[1] << ", modinfo "
            << per_target[2] << ", cpio " << per_target[3] << ", channel " << per_target[4] << "), " << failed << " failed\n";
  return failed ? 1 : 0;
}
