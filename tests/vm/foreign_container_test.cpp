// SPDX-License-Identifier: Apache-2.0
// Containers and the network on ARM64 and RISC-V 64 guests (QEMU TCG): the guest architecture
// (SessionConfig::arch, `crumble run --arch`) picks the image's platform, the container's root is
// the image's erofs disk on virtio-blk with an overlay on it, all from the foreign kernel's own
// modules (built-in ones left out: trixie's riscv64 kernel has fuse and virtiofs built in).
//
// The images are made here as a user would make them: umoci (init, new, unpack, repack, config
// --architecture) around Debian's busybox-static of the guest's architecture (foreign_busybox: the
// package the guest's own initramfs uses). Oracles: the guest kernel (uname -m, /proc/mounts,
// the addresses on eth0), umoci's config (the image's architecture), and the errors naming both
// architectures. Each architecture is one ctest (tag); a root cache and a snapshot cache of the
// test's own keep the user's caches untouched. Skipped (exit 4) without the kernel, QEMU, umoci or
// mkfs.erofs.
#include <catch2/catch.hpp>
#include <crumble/container/container.hpp>
#include <crumble/vm/host/cache_dir.hpp>
#include <crumble/vm/session.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using namespace crumble;
using namespace crumble::vm;
using Catch::Matchers::Contains;

namespace {

bool on_path(const std::string& tool) { return std::system(("command -v " + tool + " > /dev/null 2>&1").c_str()) == 0; }

void skip(const std::string& why) {
  std::printf("SKIPPED: %s\n", why.c_str());
  std::exit(4);
}

void tool(const std::vector<std::string>& argv) { run_process_checked(argv, std::chrono::seconds(120)); }

// What the tests of `arch` need, or a loud skip.
void require(GuestArch arch) {
  const std::string name(arch_info(arch).name);
  if (!cached_kernel(arch)) skip("no " + name + " kernel in the cache: run `crumble kernel fetch --arch " + name + "`");
  if (!on_path(std::string(arch_info(arch).qemu_binary)))
    skip(std::string(arch_info(arch).qemu_binary) + " not found: apt-get install " + std::string(arch_info(arch).qemu_package));
  for (const char* t : {"umoci", "mkfs.erofs"})
    if (!on_path(t)) skip(std::string(t) + " not found: apt-get install umoci erofs-utils");
}

// An OCI layout (tag "t") for `image_arch` holding `busybox` as /bin/busybox with a few applets,
// Cmd `uname -m`.
fs::path make_image(const fs::path& dir, const std::string& image_arch, const fs::path& busybox) {
  const fs::path layout = dir / ("layout-" + image_arch), bundle = dir / ("bundle-" + image_arch);
  const std::string ref = layout.string() + ":t";
  tool({"umoci", "init", "--layout", layout.string()});
  tool({"umoci", "new", "--image", ref});
  tool({"umoci", "unpack", "--rootless", "--image", ref, bundle.string()});
  fs::create_directories(bundle / "rootfs/bin");
  fs::copy_file(busybox, bundle / "rootfs/bin/busybox");
  for (const char* applet : {"sh", "uname", "cat", "grep", "echo"}) fs::create_symlink("busybox", bundle / "rootfs/bin" / applet);
  tool({"umoci", "repack", "--image", ref, bundle.string()});
  tool({"umoci", "config", "--image", ref, "--architecture", image_arch, "--config.cmd", "uname", "--config.cmd", "-m"});
  return layout;
}

// The test's world for one architecture: its image, a root cache and a snapshot cache of its own.
struct World {
  test::ScratchDir dir{"crumble-foreign-container"};
  fs::path image;
  explicit World(GuestArch arch) {
    require(arch);
    image = make_image(dir.path, std::string(arch_info(arch).name), foreign_busybox(arch));
  }
  container::Spec spec(GuestArch arch) const {
    container::Spec s;
    s.image = image;
    s.root_cache_dir = dir.path / "roots";
    s.vm.arch = arch;
    s.vm.snapshot_dir = dir.path / "snapshots";
    s.vm.boot_timeout = std::chrono::seconds(120);  // TCG on two shared cores
    return s;
  }
  static World& of(GuestArch arch) {  // only the architecture asked for is made: each is its own ctest
    if (arch == GuestArch::arm64) {
      static World arm64(GuestArch::arm64);
      return arm64;
    }
    static World riscv64(GuestArch::riscv64);
    return riscv64;
  }
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// A container of the guest's architecture runs its Cmd and a shell on the image's root (an overlay
// on the erofs disk); started twice, the second start restored with the container set up where
// the architecture is snapshotted (ARM64), cold where it is not (RISC-V: QEMU does not migrate
// its timers).
void container_runs(GuestArch arch) {
  World& w = World::of(arch);
  for (int start = 0; start < 2; ++start) {
    const auto t0 = std::chrono::steady_clock::now();
    container::Container box(w.spec(arch));
    std::printf("%s container ready in %.2f s (%s)\n", std::string(arch_info(arch).name).c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), box.snapshot_note().c_str());
    INFO(box.snapshot_note());
    // ARM64: the first start also saves a container snapshot, which the second restores
    if (arch == GuestArch::arm64) {
      CHECK(box.snapshot_note().starts_with(start == 0 ? "cold boot; saved snapshot" : "restored from container snapshot"));
      CHECK(box.container_restored() == (start == 1));
    }
    else CHECK(box.snapshot_note() == std::string("cold boot: ") + QemuMachine::riscv_not_saved);
    const CommandResult cmd = box.run();  // the image's Cmd: uname -m
    CHECK(cmd.status() == 0);
    CHECK(cmd.out == std::string(arch_info(arch).uname) + "\n");
    const CommandResult mounts = box.run({"sh", "-c", "grep -c '^overlay / overlay' /proc/mounts; cat /proc/filesystems | grep -c erofs"});
    CHECK(mounts.status() == 0);
    CHECK(mounts.out == "1\n1\n");
    box.stop();
  }
}
TEST_CASE("arm64 container: the image's Cmd prints aarch64, on an erofs root under overlay, cold then restored", "[arm64]") {
  container_runs(GuestArch::arm64);
}
TEST_CASE("riscv64 container: the image's Cmd prints riscv64, on an erofs root under overlay, cold each time", "[riscv64]") {
  container_runs(GuestArch::riscv64);
}

// The guest's architecture picks the image's: another architecture's image is refused naming
// both, before a VM starts; and qemu-user (--platform) is for the amd64 guest only.
void wrong_image_refused(GuestArch arch) {
  World& w = World::of(arch);
  const std::string name(arch_info(arch).name);
  const fs::path amd64 = make_image(w.dir.path, "amd64", "/bin/busybox");
  auto entries = [](const fs::path& d) {
    std::error_code ec;
    return fs::exists(d, ec) ? std::distance(fs::directory_iterator(d), fs::directory_iterator{}) : 0;
  };
  const auto roots = entries(w.dir.path / "roots"), snapshots = entries(w.dir.path / "snapshots");
  container::Spec s = w.spec(arch);
  s.image = amd64;
  s.arch_from_image = false;  // the guest's architecture asked for (`crumble run --arch`)
  CHECK_THAT(error_of([&] { container::Container c(s); }), Contains("linux/amd64") && Contains("linux/" + name));
  s = w.spec(arch);  // a root directory of another platform's binaries
  s.image.clear();
  s.rootfs = w.dir.path / ("bundle-" + name) / "rootfs";
  s.platform_arch = arch == GuestArch::arm64 ? "riscv64" : "arm64";
  CHECK(error_of([&] { container::Container c(s); }) == s.platform_arch + " binaries cannot run in " +
                                                            std::string(arch_info(arch).a_display) +
                                                            " guest: qemu-user emulation is for the amd64 guest only");
  CHECK(entries(w.dir.path / "roots") == roots);  // nothing unpacked, no VM started
  CHECK(entries(w.dir.path / "snapshots") == snapshots);
}
TEST_CASE("arm64 guest: an amd64 image refused naming both platforms, qemu-user platforms refused", "[arm64]") {
  wrong_image_refused(GuestArch::arm64);
}
TEST_CASE("riscv64 guest: an amd64 image refused naming both platforms, qemu-user platforms refused", "[riscv64]") {
  wrong_image_refused(GuestArch::riscv64);
}

// Without an architecture asked for, the image's picks the guest: a Spec left at amd64 (the
// library's default) and `crumble run --image` without --arch boot an ARM64 guest for an arm64
// image and say so; --arch amd64 refuses it. The CLI runs with caches of the test's own
// (XDG_CACHE_HOME), the kernels seen through a link to the user's.
TEST_CASE("arm64 image without an architecture asked for: the guest is arm64, through the API and crumble run", "[arm64]") {
  World& w = World::of(GuestArch::arm64);
  container::Spec s = w.spec(GuestArch::arm64);
  s.vm.arch = GuestArch::amd64;
  {
    container::Container box(s);
    CHECK(box.guest_arch() == GuestArch::arm64);
    CHECK(box.arch_note() == "guest arm64: the image is for linux/arm64");
    const CommandResult r = box.run();
    CHECK(r.out == "aarch64\n");
    box.stop();
  }
#ifdef CRUMBLE_CLI
  const fs::path xdg = w.dir.path / "xdg";
  fs::create_directories(xdg / "crumble");
  if (!fs::exists(xdg / "crumble/kernels")) fs::create_directory_symlink(cache_dir() / "kernels", xdg / "crumble/kernels");
  auto crumble = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "XDG_CACHE_HOME=" + xdg.string(), CRUMBLE_CLI, "run", "--boot-timeout", "120",
                                     "--snapshot-dir", (w.dir.path / "snapshots").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, std::chrono::seconds(300));
  };
  const auto picked = crumble({"--image", w.image.string(), "--", "uname", "-m"});
  INFO(picked.err);
  CHECK(picked.status == 0);
  CHECK(picked.out == "aarch64\n");
  CHECK_THAT(picked.err, Contains("crumble: guest arm64: the image is for linux/arm64"));
  const auto refused = crumble({"--arch", "amd64", "--image", w.image.string(), "--", "uname", "-m"});
  CHECK(refused.status != 0);
  CHECK(refused.out.empty());
  CHECK_THAT(refused.err, Contains("is for linux/arm64, not for linux/amd64"));
#endif
}

// The network's modules (virtio_mmio, virtio_net) come from the foreign kernel and the device from
// the virt machine's virtio-mmio transports: init configures eth0 as on AMD64.
void network(GuestArch arch) {
  World::of(arch);  // the skips
  SessionConfig c;
  c.arch = arch;
  c.network = true;
  c.snapshot = SnapshotMode::off;  // the devices are the test, not the snapshot (arm64's is the container test's)
  c.boot_timeout = std::chrono::seconds(120);
  Session vm(c);
  const CommandResult r = vm.run({"sh", "-c", "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'; ip route | grep default; cat /etc/resolv.conf"});
  CHECK(r.status() == 0);
  CHECK(r.out == "inet 10.0.2.15/24\ndefault via 10.0.2.2 dev eth0 \nnameserver 10.0.2.3\n");
}
TEST_CASE("arm64 guest: the network (virtio-net from the kernel's modules), eth0 configured by init", "[arm64]") { network(GuestArch::arm64); }
TEST_CASE("riscv64 guest: the network (virtio-net from the kernel's modules), eth0 configured by init", "[riscv64]") {
  network(GuestArch::riscv64);
}

}  // namespace
