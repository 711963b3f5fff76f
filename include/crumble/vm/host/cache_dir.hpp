// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/cache_dir.hpp — where crumble keeps what it fetches and saves on this host:
// kernels (guest/kernel.hpp) under kernels/, snapshots (snapshot/cache.hpp) under snapshots/.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace crumble::vm {

// $XDG_CACHE_HOME/crumble (when set to an absolute path, as the XDG spec asks), else
// $HOME/.cache/crumble. Not created here.
inline std::filesystem::path cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return std::filesystem::path(xdg) / "crumble";
  const char* home = std::getenv("HOME");
  if (home && home[0] != '\0') return std::filesystem::path(home) / ".cache" / "crumble";
  throw std::runtime_error(
      "crumble: no cache directory: neither XDG_CACHE_HOME (absolute path) nor HOME is set; "
      "set one, e.g. XDG_CACHE_HOME=/var/cache");
}

}  // namespace crumble::vm
