// SPDX-License-Identifier: Apache-2.0
// tools/version_line.hpp — what `crumble --version` and `crumble-rtg --version` print: the
// package version (CMakeLists.txt's project()) and, when built from a git checkout, the revision.
#pragma once

#include <crumble/version.hpp>

#include <string>

#include "git_revision.hpp"  // generated at build time (cmake/git_revision.cmake)

namespace crumble::tools {
inline std::string version_line(const char* program) {
  std::string s = std::string(program) + " " + crumble::version;
  if (*CRUMBLE_GIT_REVISION) s += std::string(" (git ") + CRUMBLE_GIT_REVISION + ")";
  return s + "\n";
}
}  // namespace crumble::tools
