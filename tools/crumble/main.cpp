// SPDX-License-Identifier: Apache-2.0
// crumble — boot a Linux microVM and run a command in it.
//
//   crumble run [options] -- CMD [ARGS...]     the command's stdout/stderr, and its exit status
//   crumble bare [--timeout S] FILE.go [ARGS]  run an RTG program in a bare microVM (KVM, no kernel)
//   crumble kernel fetch                       download Debian's cloud kernel into the cache
//   crumble kernel path                        where the cached kernel is
//   crumble snapshot list|clear                the snapshot cache
//
// Exit status of `run`: the command's (128+N when killed by signal N, 127 not found, 126 not
// executable); 125 when crumble itself failed (bad options, no kernel, the VM did not boot).
#include <crumble/vm/engine/kvm/bare.hpp>
#include <crumble/vm/session.hpp>
#include <crumble/vm/snapshot/cache.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <crumble/rtg/translate.hpp>

#include "version_line.hpp"

namespace {

constexpr int crumble_failed = 125;

constexpr const char* usage = R"(usage:
  crumble run [options] -- CMD [ARGS...]
      --engine qemu|kvm   force an engine (default: QEMU, with KVM acceleration where the host
                          has VMX/SVM and QEMU can use it; kvm: the in-process KVM engine)
      --kernel PATH       boot this kernel (bzImage or vmlinux) instead of the fetched one
      --rootfs DIR        the guest's root filesystem (default: busybox)
      --module NAME       load a kernel module at boot, with its dependencies (repeatable)
      --memory MiB        guest memory (default 256)
      --cpus N            virtual CPUs (default 1)
      --env K=V           set an environment variable (repeatable; default PATH, HOME, TERM)
      --timeout S         stop the command after S seconds (default 600)
      --boot-timeout S    give up booting after S seconds (default 60)
      --append ARGS       add to the kernel command line
      --kernel-log FILE   write the kernel's console output to FILE
      --snapshot late|early
                          where the cached snapshot catches init (default late: waiting for
                          commands; early: right after its setup, phase 6)
      --no-snapshot       boot cold; neither use nor save a snapshot
      --snapshot-dir DIR  keep snapshots in DIR (default ~/.cache/crumble/snapshots)
      --strict-snapshot   a snapshot that cannot be used is an error, not a cold boot
      --verbose           say which engine runs and why, whether it was restored from a
                          snapshot, and how long things took
  crumble bare [--timeout S] [-D FLAG] [-c KEY=VALUE] FILE.go [ARGS...]
      run an RTG program in a bare microVM: its own KVM VM, no kernel, the program in user mode,
      its syscalls answered by crumble (write, exit, mmap, getrandom, getpid); the exit status is
      the program's
  crumble kernel fetch    download Debian 12's cloud kernel into the cache (shows progress)
  crumble kernel path     print the cached kernel's path
  crumble snapshot list   list the snapshot cache (~/.cache/crumble/snapshots)
  crumble snapshot clear  empty it
  crumble --version       print the version (and the git revision it was built from)
)";

[[noreturn]] void die(const std::string& msg, bool show_usage = false) {
  std::cerr << "crumble: " << msg << "\n";
  if (show_usage) std::cerr << usage;
  std::exit(show_usage ? 2 : crumble_failed);
}

double seconds_arg(const std::string& opt, const std::string& v) {
  try {
    std::size_t used = 0;
    double s = std::stod(v, &used);
    if (used != v.size() || !(s > 0)) throw std::invalid_argument(v);
    return s;
  } catch (const std::exception&) {
    die(opt + " takes a positive number of seconds, not \"" + v + "\"", true);
  }
}
long int_arg(const std::string& opt, const std::string& v, long lo, long hi) {
  try {
    std::size_t used = 0;
    long n = std::stol(v, &used);
    if (used != v.size() || n < lo || n > hi) throw std::invalid_argument(v);
    return n;
  } catch (const std::exception&) {
    die(opt + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not \"" + v + "\"", true);
  }
}

int kernel_command(const std::vector<std::string>& args) {
  if (args.size() == 1 && args[0] == "fetch") {
    try {
      crumble::vm::GuestKernel k = crumble::vm::fetch_debian_kernel([](std::string_view line) { std::cerr << line << "\n"; });
      std::cout << k.image.string() << "\n";
      return 0;
    } catch (const std::exception& e) {
      die(std::string("kernel fetch failed: ") + e.what());
    }
  }
  if (args.size() == 1 && args[0] == "path") {
    auto k = crumble::vm::cached_kernel();
    if (!k) die("no kernel in the cache: run `crumble kernel fetch`");
    std::cout << k->image.string() << "\n";
    return 0;
  }
  die("unknown kernel command", true);
}

int bare_command(const std::vector<std::string>& args) {
  crumble::vm::BareOptions opt;
  crumble::rtg::Options rtg;
  std::string file;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) die(a + " needs a value", true);
      return args[++i];
    };
    if (a == "--timeout") opt.timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "-D") rtg.defines.insert(value());
    else if (a == "-c") {
      std::string kv = value();
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) die("-c takes KEY=VALUE, not \"" + kv + "\"", true);
      rtg.config[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--") {
      ++i;
      break;
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a, true);
    else break;
  }
  if (i >= args.size()) die("no RTG file given: crumble bare FILE.go", true);
  file = args[i];
  opt.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  opt.write = [](int fd, std::string_view bytes) {
    std::FILE* f = fd == 1 ? stdout : stderr;
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fflush(f);
  };
  try {
    crumble::rtg::Translation t = crumble::rtg::translate_file(file, rtg);
    return crumble::vm::run_bare(t.program, opt).status;
  } catch (const crumble::rtg::Error& e) {
    std::cerr << e.what();
    return crumble_failed;
  } catch (const crumble::vm::kvm::KvmUnavailable& e) {
    die(std::string("bare microVMs need KVM: ") + e.what());
  } catch (const std::exception& e) {
    die(e.what());
  }
}

int snapshot_command(const std::vector<std::string>& args) {
  crumble::vm::SnapshotCache cache;
  if (args.size() == 1 && args[0] == "list") {
    auto entries = cache.list();
    for (const auto& e : entries) std::printf("%s  %8.1f MiB\n", e.key.c_str(), static_cast<double>(e.bytes) / (1 << 20));
    std::fprintf(stderr, "%zu snapshot(s) in %s\n", entries.size(), cache.dir().c_str());
    return 0;
  }
  if (args.size() == 1 && args[0] == "clear") {
    std::fprintf(stderr, "removed %zu snapshot(s) from %s\n", cache.clear(), cache.dir().c_str());
    return 0;
  }
  die("unknown snapshot command", true);
}

// Writes a chunk of the command's output to crumble's own stdout or stderr, whole (write(2)
// directly: no stdio buffer holds it, so stdout and stderr keep the order the guest sent them in).
void write_output(crumble::vm::Stream s, std::string_view bytes) {
  const int fd = s == crumble::vm::Stream::out ? STDOUT_FILENO : STDERR_FILENO;
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error(std::string("cannot write the command's ") + (fd == STDOUT_FILENO ? "stdout" : "stderr") + ": " +
                               std::strerror(n < 0 ? errno : EIO));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

int run_command(const std::vector<std::string>& args) {
  crumble::vm::SessionConfig cfg;
  std::vector<std::string> env;
  std::vector<std::string> command;
  std::string kernel_log;
  bool verbose = false;
  std::optional<std::chrono::milliseconds> timeout;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) die(a + " needs a value", true);
      return args[++i];
    };
    if (a == "--engine") {
      std::string e = value();
      if (e == "qemu") cfg.engine = crumble::vm::Engine::qemu;
      else if (e == "kvm") cfg.engine = crumble::vm::Engine::kvm;
      else die("--engine takes qemu or kvm, not \"" + e + "\"", true);
    } else if (a == "--kernel") cfg.kernel = value();
    else if (a == "--rootfs") cfg.rootfs = value();
    else if (a == "--module") cfg.modules.push_back(value());
    else if (a == "--memory") cfg.memory_mib = static_cast<std::uint32_t>(int_arg(a, value(), 192, 65536));
    else if (a == "--cpus") cfg.vcpus = static_cast<int>(int_arg(a, value(), 1, 64));
    else if (a == "--env") {
      std::string kv = value();
      if (kv.find('=') == std::string::npos || kv[0] == '=') die("--env takes KEY=VALUE, not \"" + kv + "\"", true);
      env.push_back(kv);
    } else if (a == "--timeout") timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "--boot-timeout") cfg.boot_timeout = std::chrono::milliseconds(static_cast<long>(seconds_arg(a, value()) * 1000));
    else if (a == "--append") cfg.append = value();
    else if (a == "--kernel-log") kernel_log = value();
    else if (a == "--snapshot") {
      std::string m = value();
      if (m == "late") cfg.snapshot = crumble::vm::SnapshotMode::late;
      else if (m == "early") cfg.snapshot = crumble::vm::SnapshotMode::early;
      else if (m == "off") cfg.snapshot = crumble::vm::SnapshotMode::off;
      else die("--snapshot takes late, early or off, not \"" + m + "\"", true);
    } else if (a == "--no-snapshot") cfg.snapshot = crumble::vm::SnapshotMode::off;
    else if (a == "--strict-snapshot") cfg.snapshot_strict = true;
    else if (a == "--snapshot-dir") cfg.snapshot_dir = value();
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (!a.empty() && a[0] == '-') die("unknown option " + a, true);
    else {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
  }
  if (command.empty()) die("no command given: crumble run [options] -- CMD [ARGS...]", true);
  if (env.empty()) env = crumble::vm::default_environment();

  auto t0 = crumble::vm::Clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::optional<crumble::vm::Session> vm;
  auto save_log = [&] {
    if (kernel_log.empty()) return;
    std::ofstream out(kernel_log, std::ios::binary);
    out << (vm ? vm->kernel_log() : std::string());
  };
  try {
    vm.emplace(cfg);
    if (verbose) {
      std::fprintf(stderr, "crumble: engine: %s\n", vm->engine_reason().c_str());
      std::fprintf(stderr, "crumble: %s\n", vm->snapshot_note().c_str());
      std::fprintf(stderr, "crumble: %s in %.0f ms\n", vm->restored() ? "restored" : "booted", ms(crumble::vm::Clock::now() - t0));
    }
    auto t1 = crumble::vm::Clock::now();
    // The output goes out chunk by chunk as the guest sends it, so that crumble's memory does not
    // grow with it (a command may write gigabytes) and a reader sees it while the command ends.
    crumble::vm::CommandResult r = vm->run(command, write_output, env, timeout);
    if (verbose) std::fprintf(stderr, "crumble: %s: %s in %.1f ms\n", command[0].c_str(), r.describe().c_str(), ms(crumble::vm::Clock::now() - t1));
    if (r.end == crumble::vm::CommandResult::End::not_started)
      std::fprintf(stderr, "crumble: %s: %s\n", command[0].c_str(), r.describe().c_str());
    vm->shutdown();
    save_log();
    return r.status();
  } catch (const std::exception& e) {  // VmError, or the output could not be written
    save_log();
    die(e.what());
  }
}

// Before anything else (no thread may start first): SIGTERM, SIGINT and SIGHUP stop the VM,
// remove its temporary directory and exit 128+N; engine processes die with crumble even on
// SIGKILL (host/process.hpp), and what a SIGKILL'ed run left in $TMPDIR this run removes.
void prepare_host() {
  crumble::vm::stop_cleanly_on_signals();
  crumble::vm::reclaim_stale_temp_dirs();
}

}  // namespace

int main(int argc, char** argv) {
  prepare_host();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << crumble::tools::version_line("crumble");
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "run") return run_command(args);
  if (cmd == "kernel") return kernel_command(args);
  if (cmd == "bare") return bare_command(args);
  if (cmd == "snapshot") return snapshot_command(args);
  die("unknown command \"" + cmd + "\"", true);
}
