// SPDX-License-Identifier: Apache-2.0
// tests/tmux.hpp — tmux on a private socket, as the terminal tests drive it: a session runs the
// command under test on a real pty of a given size; keys go in, the pane is read back.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace crumble::test {

struct Tmux {
  std::string socket = (std::filesystem::temp_directory_path() / ("crumble-tmux-" + std::to_string(::getpid()) + ".sock")).string();
  Tmux() = default;
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;
  ~Tmux() {
    cmd("kill-server");
    std::error_code ec;
    std::filesystem::remove(socket, ec);
  }
  int cmd(const std::string& args) const { return std::system(("tmux -S '" + socket + "' " + args + " > /dev/null 2>&1").c_str()); }
  // What a tmux command prints, without the last newline.
  std::string output(const std::string& args) const {
    std::FILE* f = ::popen(("tmux -S '" + socket + "' " + args).c_str(), "r");
    std::string s;
    char buf[4096];
    for (std::size_t n; f && (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    if (f) ::pclose(f);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  std::string capture(const std::string& target) const { return output("capture-pane -p -t " + target); }
  // Waits until the pane shows `text`.
  bool wait_for(const std::string& target, const std::string& text, std::chrono::seconds limit = std::chrono::seconds(30)) const {
    for (const auto deadline = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(std::chrono::milliseconds(100)))
      if (capture(target).find(text) != std::string::npos) return true;
    return false;
  }
  void keys(const std::string& target, const std::string& keys) const { cmd("send-keys -t " + target + " " + keys); }
};

}  // namespace crumble::test
