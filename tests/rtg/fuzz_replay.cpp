// SPDX-License-Identifier: Apache-2.0
// tests/rtg/fuzz_replay.cpp — replays the RTG fuzz regression corpus without libFuzzer.
//
//   fuzz_replay [-v] [-t SECONDS] DIR_OR_FILE...
//
// Runs every regular file under each DIR (recursively), and each FILE, through the fuzzer's
// body (tests/rtg/fuzzer/fuzz_one.hpp): translate, emit_cpp, amd64 assembly. Build it with
// -fsanitize=address,undefined so that a regression is a sanitizer report.
//
// Exit status: 0 every input ran (a rejection, rtg::Error or compile_error, is fine); 1 an input
// threw another exception, or ran longer than -t SECONDS (default 30: a hang); 2 bad usage or
// an unreadable path. A crash or sanitizer report ends the process, after naming the input.
// -v names each input as it starts.
#include <algorithm>
#include <csignal>
#include <signal.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "fuzzer/fuzz_one.hpp"

namespace fs = std::filesystem;

// The sanitizers' hook, called before a report ends the process (absent without sanitizers).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

// The input being run, for the crash and timeout messages (only async-signal-safe use there).
std::string current;

void say_current(const char* what) {
  const char head[] = "fuzz_replay: ";
  [[maybe_unused]] ssize_t r = ::write(2, head, sizeof head - 1);
  r = ::write(2, current.data(), current.size());
  r = ::write(2, what, std::strlen(what));
}

void on_death() { say_current(": crashed (see the report)\n"); }

void on_signal(int sig) {
  if (sig == SIGALRM) {
    say_current(": timed out (a hang)\n");
    ::_exit(1);
  }
  say_current(": crashed with a signal\n");
  std::raise(sig);  // SA_RESETHAND: the default action now
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  unsigned timeout = 30;
  std::vector<fs::path> roots;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "-t" && i + 1 < argc) timeout = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "usage: fuzz_replay [-v] [-t SECONDS] DIR_OR_FILE...\n";
      return 2;
    } else roots.emplace_back(a);
  }
  if (roots.empty()) {
    std::cerr << "usage: fuzz_replay [-v] [-t SECONDS] DIR_OR_FILE...\n";
    return 2;
  }

  std::vector<fs::path> files;
  for (const auto& p : roots) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file()) files.push_back(it->path());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else if (!ec) {
      std::cerr << "fuzz_replay: no such file or directory: " << p.string() << "\n";
      return 2;
    }
    if (ec) {
      std::cerr << "fuzz_replay: cannot read " << p.string() << ": " << ec.message() << "\n";
      return 2;
    }
  }
  std::sort(files.begin(), files.end());

  std::signal(SIGALRM, on_signal);
  if (__sanitizer_set_death_callback) {
    __sanitizer_set_death_callback(on_death);  // the sanitizers keep their own signal handlers
  } else {
    // Without sanitizers: name the input on a crash, on a stack of its own (the crash may be a
    // stack overflow).
    static std::vector<char> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    ::sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::sigaction(sig, &sa, nullptr);
  }

  int failed = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::cerr << "fuzz_replay: cannot open " << f.string() << "\n";
      return 2;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    current = f.string();
    if (verbose) std::cerr << "fuzz_replay: " << current << "\n";
    ::alarm(timeout);
    try {
      crumble::rtg::fuzz::run_one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::cerr << "fuzz_replay: " << current << ": unexpected exception: " << e.what() << "\n";
      ++failed;
    } catch (...) {
      std::cerr << "fuzz_replay: " << current << ": unexpected exception of a non-std type\n";
      ++failed;
    }
    ::alarm(0);
  }
  std::cout << "fuzz_replay: " << files.size() << " inputs, " << failed << " failed\n";
  return failed ? 1 : 0;
}
