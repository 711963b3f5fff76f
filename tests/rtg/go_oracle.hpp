// SPDX-License-Identifier: Apache-2.0
// tests/rtg/go_oracle.hpp — RTG programs built and run by the real Go toolchain, the oracle that
// crumble-rtg's translations are compared against.
//
// An RTG program is Go source that imports crumble/rtg/runtime. The oracle writes a throw-away
// module `crumble` (go.mod) holding go_oracle/runtime/runtime.go at rtg/runtime — a runtime whose
// functions do what docs/rtg.md says the translated ones do — and each program as its own main
// package, builds them all with one `go build -gcflags='-N -l'` (Go's optimiser off: Go 1.19.8's
// miscompiles at least one such program) and runs each binary as tests/runner.hpp runs ours.
// Everything Go writes stays in a directory of the batch under the work directory given, its
// build cache too (random programs never repeat, so a shared cache would only grow: about
// 115 KB a program; a fresh one costs about 0.5 s a batch), removed when the batch is done.
// The toolchain's environment files are not read (GOENV=off).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../runner.hpp"

namespace crumble::rtg_test {

struct GoResult {
  bool built = false;
  std::string build_log;  // go build's messages when it failed
  test::RunResult run;    // what the binary did, when built
};

class GoOracle {
 public:
  // The oracle when `go` is installed (the path CMake found, else PATH); nullopt without it.
  static std::optional<GoOracle> find(const std::string& configured, const std::string& shim, const std::string& work) {
    std::string go = configured;
    if (go.empty() || ::access(go.c_str(), X_OK) != 0) {
      go.clear();
      for (const char* dir : {"/usr/lib/go/bin", "/usr/local/go/bin", "/usr/bin"})
        if (::access((std::string(dir) + "/go").c_str(), X_OK) == 0) {
          go = std::string(dir) + "/go";
          break;
        }
    }
    if (go.empty()) return std::nullopt;
    return GoOracle(go, shim, work);
  }

  // Builds every source (one go build for all) and runs each; one result per source, in order.
  std::vector<GoResult> run(const std::vector<std::string>& sources, const test::RunOptions& options = {}) {
    namespace fs = std::filesystem;
    const fs::path batch = fs::path(work_) / ("batch-" + std::to_string(::getpid()) + "-" + std::to_string(batches_++));
    fs::remove_all(batch);
    fs::create_directories(batch / "rtg" / "runtime");
    fs::create_directories(batch / "bin");
    write(batch / "go.mod", "module crumble\n\ngo 1.19\n");
    fs::copy_file(shim_, batch / "rtg" / "runtime" / "runtime.go");
    std::vector<std::string> argv{go_, "build", "-gcflags=-N -l", "-o", (batch / "bin").string() + "/"};
    for (std::size_t k = 0; k < sources.size(); ++k) {
      fs::create_directories(batch / ("p" + std::to_string(k)));
      write(batch / ("p" + std::to_string(k)) / "main.go", sources[k]);
      argv.push_back("./p" + std::to_string(k));
    }
    std::vector<GoResult> results(sources.size());
    std::string log;
    const bool ok = command(argv, batch.string(), (batch / "cache").string(), log);
    if (!ok && sources.size() > 1) {  // one bad program fails the batch: build each alone to tell which
      fs::remove_all(batch);
      for (std::size_t k = 0; k < sources.size(); ++k) results[k] = run({sources[k]}, options)[0];
      return results;
    }
    for (std::size_t k = 0; k < sources.size(); ++k) {
      const fs::path bin = batch / "bin" / ("p" + std::to_string(k));
      if (!ok || !fs::exists(bin)) {
        results[k].build_log = log;
        continue;
      }
      results[k].built = true;
      std::ifstream in(bin, std::ios::binary);
      std::vector<std::uint8_t> elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      results[k].run = test::run_elf(elf, options);
    }
    fs::remove_all(batch);
    return results;
  }

  const std::string& go() const { return go_; }

 private:
  GoOracle(std::string go, std::string shim, std::string work) : go_(std::move(go)), shim_(std::move(shim)), work_(std::move(work)) {
    std::filesystem::create_directories(work_);
  }

  static void write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
  }

  // Runs argv in `dir` with Go's environment pointed into it; stdout and stderr go to `log`. False when it fails or runs past the deadline (then it is killed).
  bool command(const std::vector<std::string>& argv, const std::string& dir, const std::string& cache, std::string& log) {
    const std::string log_path = dir + "/build.log";
    std::vector<std::string> env_s{"PATH=/usr/bin:/bin", "HOME=" + dir, "GOCACHE=" + cache,
                                   "GOPATH=" + dir + "/gopath", "GOENV=off", "GOFLAGS=-mod=mod", "GO111MODULE=on",
                                   "GOPROXY=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0"};
    std::vector<char*> args, envp;
    std::vector<std::string> argv_s = argv;
    for (auto& s : argv_s) args.push_back(s.data());
    args.push_back(nullptr);
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
      log = "fork failed";
      return false;
    }
    if (pid == 0) {
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
      if (::chdir(dir.c_str()) != 0) ::_exit(126);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(600);
    int status = 0;
    for (;;) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) {
        log = "waitpid failed";
        return false;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        log = "go build ran past 600 s; killed";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::ifstream in(log_path);
    std::ostringstream text;
    text << in.rdbuf();
    log = text.str();
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::string go_, shim_, work_;
  int batches_ = 0;
};

}  // namespace crumble::rtg_test
