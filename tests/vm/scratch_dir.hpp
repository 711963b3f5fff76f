// SPDX-License-Identifier: Apache-2.0
// tests/vm/scratch_dir.hpp — what the kernel, device-tree and machine-tree tests share: a scratch
// directory in TMPDIR removed with everything in it, single quotes for a path handed to a shell,
// and a shell command's output.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace crumble::test {

struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& name) {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/" + name + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command and gives its stdout; a command that fails fails the test, naming it.
inline std::string shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int st = ::pclose(p);
  INFO("command: " << cmd);
  REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  return out;
}

}  // namespace crumble::test
