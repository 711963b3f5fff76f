// SPDX-License-Identifier: Apache-2.0
// crumble/vm/host/input_file.hpp — the one way the host opens a file it reads as input: kernels,
// snapshot state and memory files, kernel modules, busybox, files copied into an initramfs.
//
// Every such path may name something hostile: a FIFO (open() would wait for a writer forever), a
// device (/dev/zero reads forever), a huge sparse file (reading it whole takes minutes and all
// memory), or, in a directory others can write (the snapshot cache), a symlink. So:
//
//   1. open with O_NONBLOCK (a FIFO opens at once instead of waiting), O_CLOEXEC, and O_NOFOLLOW
//      where the caller says the file is ours and is never a link (the snapshot cache);
//   2. fstat the descriptor (not the path: nothing can be swapped in between) and refuse anything
//      that is not a regular file, or is larger than the caller's limit;
//   3. clear O_NONBLOCK, so reads behave as usual.
//
// Each reader throws its own error type (a kernel: std::invalid_argument; a snapshot:
// SnapshotError; a module: std::runtime_error), so the type is a template argument:
//
//   InputFile f = open_input<SnapshotError>(path, "snapshot", {.max_size = 256 << 20, .follow = false});
//   std::vector<std::uint8_t> bytes = f.read_all<SnapshotError>();
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace crumble::vm {

// An open regular file, closed when it goes; size is fstat's, taken at open.
class InputFile {
 public:
  InputFile() = default;
  InputFile(int fd, std::uint64_t size, std::filesystem::path path) : fd_(fd), size_(size), path_(std::move(path)) {}
  InputFile(InputFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}
  InputFile& operator=(InputFile&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
      size_ = o.size_;
      path_ = std::move(o.path_);
    }
    return *this;
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { reset(); }

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Hands the descriptor to the caller, who closes it.
  int release() { return std::exchange(fd_, -1); }

  // Exactly `n` bytes at `offset` into `out`; Error when the file has fewer (it shrank) or a read fails.
  template <class Error>
  void read_at(std::uint64_t offset, void* out, std::uint64_t n) const {
    auto* p = static_cast<unsigned char*>(out);
    while (n) {
      const ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error("cannot read " + path_.string() + ": " + std::strerror(errno));
      if (r == 0) throw Error(path_.string() + " shrank while it was being read");
      p += r, n -= static_cast<std::uint64_t>(r), offset += static_cast<std::uint64_t>(r);
    }
  }
  // The whole file (its size was checked against the limit when it was opened).
  template <class Error>
  std::vector<std::uint8_t> read_all() const {
    std::vector<std::uint8_t> v(size_);
    read_at<Error>(0, v.data(), size_);
    return v;
  }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::filesystem::path path_;
};

struct InputLimits {
  std::uint64_t max_size = ~std::uint64_t{0};  // larger files are refused before any byte is read
  bool follow = true;                          // false: a symlink as the last component is refused (O_NOFOLLOW)
};

namespace detail {
inline const char* file_kind(mode_t m) {
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}
}  // namespace detail

// Opens `path` (named `what` in errors: "kernel image", "snapshot") for reading, as the top of
// this file says; Error (constructible from a std::string) for anything that is not a regular
// file within the limits.
template <class Error>
InputFile open_input(const std::filesystem::path& path, const std::string& what, InputLimits limits = {}) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (limits.follow ? 0 : O_NOFOLLOW);
  InputFile f(::open(path.c_str(), flags), 0, path);
  if (f.fd() < 0) {
    const int e = errno;
    if (e == ELOOP && !limits.follow) throw Error("cannot open " + what + " " + path.string() + ": it is a symbolic link (refused)");
    throw Error("cannot open " + what + " " + path.string() + ": " + std::strerror(e));
  }
  struct stat st {};
  if (::fstat(f.fd(), &st) != 0) throw Error("cannot stat " + what + " " + path.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(what + " " + path.string() + " is not a regular file (it is " + detail::file_kind(st.st_mode) + ")");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > limits.max_size)
    throw Error(what + " " + path.string() + " is " + std::to_string(size) + " bytes, more than the " + std::to_string(limits.max_size) +
                " this reader accepts");
  if (::fcntl(f.fd(), F_SETFL, ::fcntl(f.fd(), F_GETFL) & ~O_NONBLOCK) != 0)
    throw Error("cannot read " + what + " " + path.string() + ": " + std::strerror(errno));
  return InputFile(f.release(), size, path);
}

}  // namespace crumble::vm
