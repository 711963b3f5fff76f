// SPDX-License-Identifier: Apache-2.0
// crumble/container/errors.hpp — what can go wrong with a container's image or root, as types a
// caller can catch. A VM's own failures stay crumble::vm::VmError (vm/errors.hpp).
//
//   ImageError       an image or root cannot be used: missing, unreadable, not an image, a blob
//                    whose digest does not match, a hostile layer entry, a full disk while
//                    unpacking; the message names the file or entry
//   PlatformError    an ImageError: the image has no manifest for the architecture asked for;
//                    it lists those it has
//   ContainerError   a run's request is wrong: a volume source missing, a guest path not
//                    absolute, a user that does not exist in the image
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace crumble::container {

struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct PlatformError : ImageError {
  PlatformError(const std::string& what, std::vector<std::string> has) : ImageError(what), platforms(std::move(has)) {}
  std::vector<std::string> platforms;  // "linux/arm64", as the image names them, in its order
};
struct ContainerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace crumble::container
