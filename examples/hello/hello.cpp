// SPDX-License-Identifier: Apache-2.0
// hello: an IR program compiled to a static AMD64 executable at compile time, then run.
//
// The program below becomes a std::array of ELF bytes while this file compiles; main() writes
// it to a temporary file, runs it and reports its exit status. The same bytes come out of
// crumble::executable at run time.
#include <crumble/crumble.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
using namespace crumble::ir;

// Prints the first Fibonacci numbers and returns how many it printed.
constexpr Program fibonacci() {
  Var a{"a"}, b{"b"}, t{"t"}, n{"n"};
  return Program{{
      Function{"main", {"argc"}, {
          Printf{"hello from crumble: %s, argc=%d\n", {cstr("compiled at build time"), Var{"argc"}}},
          Assign{a, 0}, Assign{b, 1}, Assign{n, 0},
          While{n < 12, {
              Printf{"%d ", {a}},
              Assign{t, a + b}, Assign{a, b}, Assign{b, t}, Assign{n, n + 1},
          }},
          Printf{"\n"},
          Return{n},
      }},
  }};
}

constexpr auto elf = crumble::executable<crumble::arch::amd64>([] { return fibonacci(); });
}  // namespace

int main() {
  char path[] = "/tmp/crumble-hello-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, elf.data(), elf.size()) != static_cast<ssize_t>(elf.size()) || fchmod(fd, 0755) != 0) {
    std::perror("crumble-hello: writing the executable");
    return 1;
  }
  close(fd);
  std::printf("crumble-hello: %zu-byte ELF built at compile time, running it\n", elf.size());
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl(path, path, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(path);
  if (!WIFEXITED(status)) {
    std::fprintf(stderr, "crumble-hello: program died (status %d)\n", status);
    return 1;
  }
  std::printf("crumble-hello: program exited with %d\n", WEXITSTATUS(status));
  return WEXITSTATUS(status) == 12 ? 0 : 1;
}
