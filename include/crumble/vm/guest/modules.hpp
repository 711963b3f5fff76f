// SPDX-License-Identifier: Apache-2.0
// crumble/vm/guest/modules.hpp — the guest kernel's loadable modules and the order to load them in.
//
// Debian's kernel packages ship no modules.dep (depmod makes it at install time), so the
// dependencies come from each module itself: the `.modinfo` ELF section is a run of NUL-separated
// `key=value` strings, and `depends=a,b` names the modules that must be loaded first. The ELF64
// section headers are parsed here with every offset and size checked against the file, so a
// malformed .ko is an error naming it rather than a wild read.
//
//   ModuleIndex index(kernel.modules_dir);                  // every *.ko below it, by name (read when asked)
//   auto mods = resolve_modules(index, {"virtio_blk"});    // virtio, virtio_ring, virtio_blk
//
// Names are the file stem with '-' read as '_' (as the kernel does); lookups normalise the same
// way. Modules compressed with xz (.ko.xz: Debian trixie's, so the riscv64 kernel's) are
// decompressed when first looked up, beside the compressed file (<name>.ko, written whole then
// renamed), since an init hands plain bytes to finit_module; a kernel's thousands of modules are
// never all decompressed (trixie's riscv64 ones would take 800 MB). .ko.zst and .ko.gz are refused.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../bytes.hpp"
#include "../host/input_file.hpp"
#include "../host/process.hpp"

namespace crumble::vm {

struct KernelModule {
  std::string name;                  // "virtio_blk"
  std::filesystem::path path;        // .../kernel/drivers/block/virtio_blk.ko
  std::vector<std::string> depends;  // from .modinfo depends=, in the order listed there
  // From .modinfo softdep=pre: ...: what must be loaded first though no symbol says so, by module
  // name or alias (libcrc32c's "crc32c": the crypto algorithm its init asks for, or it fails ENOENT).
  std::vector<std::string> soft_pre;
};

namespace detail {

inline std::string module_name(std::string_view s) {
  std::string n(s);
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

// A file read piece by piece; read() refuses any range that is not wholly inside it. Opened
// through host/input_file.hpp: a FIFO or device named as a module is refused, never waited on.
class BoundedFile {
 public:
  explicit BoundedFile(const std::filesystem::path& p) : file_(open_input<std::runtime_error>(p, "kernel module")) {}
  std::uint64_t size() const { return file_.size(); }
  std::string read(std::uint64_t offset, std::uint64_t count, std::string_view what) {
    if (offset > size() || count > size() - offset) {
      throw std::runtime_error("malformed kernel module " + file_.path().string() + ": " + std::string(what) + " (bytes " +
                               std::to_string(offset) + "+" + std::to_string(count) + ") lies outside the file (" +
                               std::to_string(size()) + " bytes)");
    }
    std::string buf(count, '\0');
    file_.read_at<std::runtime_error>(offset, buf.data(), count);
    return buf;
  }

 private:
  InputFile file_;
};

inline std::uint64_t get_le(std::string_view b, std::size_t at, int bytes) {
  return le::load_n(reinterpret_cast<const std::uint8_t*>(b.data()) + at, bytes);
}

}  // namespace detail

// The `.modinfo` strings of an uncompressed ELF64 little-endian .ko, as key/value pairs in file
// order. Throws std::runtime_error naming the file when it is not such a file, has no .modinfo,
// or any header, table or string runs outside it.
inline std::vector<std::pair<std::string, std::string>> read_modinfo(const std::filesystem::path& ko) {
  auto bad = [&](const std::string& why) {
    return std::runtime_error("malformed kernel module " + ko.string() + ": " + why);
  };
  detail::BoundedFile f(ko);
  // ELF64 header: e_ident[16] e_type e_machine e_version e_entry e_phoff e_shoff e_flags
  //               e_ehsize e_phentsize e_phnum e_shentsize e_shnum e_shstrndx
  if (f.size() < 64) throw bad("shorter than an ELF64 header (" + std::to_string(f.size()) + " bytes)");
  const std::string eh = f.read(0, 64, "ELF header");
  if (eh.compare(0, 4, "\x7f" "ELF") != 0) throw bad("not an ELF file");
  if (eh[4] != 2) throw bad("not ELF64");
  if (eh[5] != 1) throw bad("not little-endian");
  const std::uint64_t shoff = detail::get_le(eh, 0x28, 8);
  const std::uint64_t shentsize = detail::get_le(eh, 0x3a, 2);
  std::uint64_t shnum = detail::get_le(eh, 0x3c, 2);
  std::uint64_t shstrndx = detail::get_le(eh, 0x3e, 2);
  if (shoff == 0) throw bad("no section headers");
  if (shentsize != 64) throw bad("section header size " + std::to_string(shentsize) + ", expected 64");
  if (shnum == 0 || shstrndx == 0xffff) {  // extended numbering: the real values are in section 0
    const std::string s0 = f.read(shoff, 64, "section header 0");
    if (shnum == 0) shnum = detail::get_le(s0, 0x20, 8);       // sh_size
    if (shstrndx == 0xffff) shstrndx = detail::get_le(s0, 0x28, 4);  // sh_link
  }
  if (shnum == 0) throw bad("no sections");
  if (shnum > f.size() / 64) throw bad(std::to_string(shnum) + " section headers cannot fit in the file");
  const std::string sh = f.read(shoff, shnum * 64, "section header table");
  if (shstrndx >= shnum) throw bad("section name table index " + std::to_string(shstrndx) + " out of range");

  // Section header: sh_name(4) sh_type(4) sh_flags(8) sh_addr(8) sh_offset(8) sh_size(8) ...
  auto section_bytes = [&](std::uint64_t i, std::string_view what) {
    const std::size_t at = static_cast<std::size_t>(i * 64);
    if (detail::get_le(sh, at + 4, 4) == 8) throw bad(std::string(what) + " has no bytes in the file (SHT_NOBITS)");
    return f.read(detail::get_le(sh, at + 0x18, 8), detail::get_le(sh, at + 0x20, 8), what);
  };
  const std::string names = section_bytes(shstrndx, "section name table");
  std::uint64_t modinfo = 0;
  for (std::uint64_t i = 1; i < shnum; ++i) {
    std::uint64_t name = detail::get_le(sh, static_cast<std::size_t>(i * 64), 4);
    if (name >= names.size()) throw bad("section " + std::to_string(i) + "'s name lies outside the name table");
    std::size_t end = names.find('\0', static_cast<std::size_t>(name));
    if (end == std::string::npos) throw bad("section " + std::to_string(i) + "'s name is not NUL-terminated");
    if (std::string_view(names).substr(name, end - name) == ".modinfo") {
      modinfo = i;
      break;
    }
  }
  if (modinfo == 0) throw bad("no .modinfo section");
  const std::string info = section_bytes(modinfo, ".modinfo section");

  std::vector<std::pair<std::string, std::string>> kv;
  for (std::size_t at = 0; at < info.size();) {
    std::size_t end = info.find('\0', at);
    if (end == std::string::npos) end = info.size();  // tolerate a last string without its NUL
    std::string_view entry = std::string_view(info).substr(at, end - at);
    at = end + 1;
    if (entry.empty()) continue;  // padding between entries
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) throw bad(".modinfo entry without '=': " + std::string(entry.substr(0, 80)));
    kv.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return kv;
}

// Every module under a lib/modules/<ver> directory, by name. Making the index only lists the
// directory; a module's .modinfo (its dependencies) is read when find() first asks for it, so a
// run that loads a few modules reads those few, not the kernel's thousand-odd (23-55 ms here on
// every container start, before this was lazy). A malformed module is reported when it is looked
// up. Where two files give the same name, the first in path order is kept.
class ModuleIndex {
 public:
  explicit ModuleIndex(const std::filesystem::path& modules_dir) : dir_(modules_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir_, ec)) {
      throw std::runtime_error("kernel modules directory " + dir_.string() + " does not exist");
    }
    std::vector<std::filesystem::path> files;
    auto opts = std::filesystem::directory_options::skip_permission_denied;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, opts, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string file = it->path().filename().string();
      if (file.ends_with(".ko.xz")) {
        files.push_back(it->path());
        continue;
      }
      for (const char* z : {".ko.zst", ".ko.gz"}) {
        if (file.ends_with(z)) {
          throw std::runtime_error("kernel module " + it->path().string() + " is compressed (" + (z + 3) +
                                   "): compressed modules are not supported, only uncompressed .ko");
        }
      }
      if (file.ends_with(".ko")) files.push_back(it->path());
    }
    if (ec) throw std::runtime_error("cannot list " + dir_.string() + ": " + ec.message());
    // modules.builtin (kmod's list, shipped with the kernel package): one path per line,
    // "kernel/fs/fuse/fuse.ko", for what this kernel has built in.
    std::ifstream builtin(dir_ / "modules.builtin");
    for (std::string line; std::getline(builtin, line);) {
      const std::string file = std::filesystem::path(line).filename().string();
      if (file.ends_with(".ko")) builtin_.insert(detail::module_name(std::string_view(file).substr(0, file.size() - 3)));
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {  // x.ko sorts before x.ko.xz: a module decompressed before is used as it is
      std::string stem = p.filename().string();
      stem.resize(stem.size() - (stem.ends_with(".xz") ? 6 : 3));
      paths_.emplace(detail::module_name(stem), p);  // the first of a name stays
    }
  }

  // The module called `name` ('-' and '_' alike), with its dependencies, or nullptr. Throws
  // std::runtime_error naming the file when that module is malformed.
  const KernelModule* find(std::string_view name) const {
    const std::string key = detail::module_name(name);
    if (auto it = read_.find(key); it != read_.end()) return &it->second;
    auto p = paths_.find(key);
    if (p == paths_.end()) return nullptr;
    KernelModule m{key, plain(p->second), {}, {}};
    for (const auto& [k, value] : read_modinfo(m.path)) {
      if (k == "softdep") m.soft_pre = soft_pre_of(value);
      if (k != "depends") continue;
      for (std::size_t at = 0; at < value.size();) {
        std::size_t comma = value.find(',', at);
        if (comma == std::string::npos) comma = value.size();
        if (comma > at) m.depends.push_back(detail::module_name(std::string_view(value).substr(at, comma - at)));
        at = comma + 1;
      }
    }
    return &read_.emplace(key, std::move(m)).first->second;
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::size_t size() const { return paths_.size(); }
  // The module that provides `name` (a module name or an alias, as modprobe resolves a softdep), or
  // nullptr. Without modules.alias (Debian's packages ship none) an alias is looked for only in the
  // modules whose names begin with it and an underscore — the kernel names an algorithm's
  // implementations so (crc32c_generic) — each read (and decompressed) once.
  const KernelModule* provider(std::string_view name) const {
    if (const KernelModule* m = find(name)) return m;
    const std::string key = detail::module_name(name) + "_";
    for (auto it = paths_.lower_bound(key); it != paths_.end() && it->first.starts_with(key); ++it) {
      const KernelModule* m = find(it->first);
      for (const auto& [k, value] : read_modinfo(m->path))
        if (k == "alias" && detail::module_name(value) == detail::module_name(name)) return m;
    }
    return nullptr;
  }

  // Whether `name` is built into the kernel (its modules.builtin lists it): nothing to load.
  // Trixie's riscv64 kernel has fuse and virtiofs built in, where bookworm's amd64 and arm64 have
  // them as modules.
  // An alias of a built-in module counts (modules.builtin.modinfo's "crc32c_generic.alias=crc32c",
  // read at the first question that needs it): a softdep on "crc32c" is met by the kernel then.
  bool builtin(std::string_view name) const {
    const std::string key = detail::module_name(name);
    if (builtin_.contains(key)) return true;
    if (!builtin_aliases_) {
      builtin_aliases_.emplace();
      std::ifstream in(dir_ / "modules.builtin.modinfo", std::ios::binary);
      for (std::string entry; std::getline(in, entry, '\0');)  // "module.key=value", each NUL-terminated
        if (const auto at = entry.find(".alias="); at != std::string::npos) builtin_aliases_->insert(detail::module_name(entry.substr(at + 7)));
    }
    return builtin_aliases_->contains(key);
  }

 private:
  // The names after "pre:" in a softdep value ("pre: crc32c post: x"), '-' read as '_'.
  static std::vector<std::string> soft_pre_of(std::string_view value) {
    std::vector<std::string> pre;
    bool in_pre = false;
    for (std::size_t at = 0; at < value.size();) {
      const std::size_t end = std::min(value.find(' ', at), value.size());
      const std::string_view word = value.substr(at, end - at);
      if (word == "pre:" || word == "post:") in_pre = word == "pre:";
      else if (!word.empty() && in_pre) pre.emplace_back(word);
      at = end + 1;
    }
    return pre;
  }

  // The uncompressed module for `p`: p itself, or for x.ko.xz the x.ko beside it, made now if it
  // is not there yet (xz -dc into a temporary name, then renamed: a reader never sees half).
  static std::filesystem::path plain(const std::filesystem::path& p) {
    const std::string s = p.string();
    if (!s.ends_with(".xz")) return p;
    const std::filesystem::path ko = s.substr(0, s.size() - 3);
    std::error_code ec;
    if (std::filesystem::is_regular_file(ko, ec)) return ko;
    const std::filesystem::path tmp = ko.string() + ".partial-" + std::to_string(::getpid());
    const std::vector<std::string> argv = {"sh", "-c", "xz -dc -- \"$1\" > \"$2\"", "sh", s, tmp.string()};
    ProcessResult r = run_process(argv, std::chrono::seconds(60));
    if (r.status != 0) {
      std::filesystem::remove(tmp, ec);
      throw std::runtime_error("cannot decompress kernel module " + s + " (is xz-utils installed?): " + tail_lines(r.err));
    }
    std::filesystem::rename(tmp, ko, ec);
    if (ec) {
      std::filesystem::remove(tmp, ec);
      if (!std::filesystem::is_regular_file(ko, ec)) throw std::runtime_error("cannot write " + ko.string());
    }
    return ko;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::filesystem::path, std::less<>> paths_;
  std::set<std::string, std::less<>> builtin_;
  mutable std::optional<std::set<std::string, std::less<>>> builtin_aliases_;
  mutable std::map<std::string, KernelModule, std::less<>> read_;  // find()'s results (stable addresses)
};

// The named modules and everything they depend on, each once, every module after its
// dependencies; otherwise in the order requested (a depth-first post-order over the requests and,
// within a module, its softdep pre: modules (ModuleIndex::provider; one not there is left out: it
// is a soft dependency) then its depends= order). One built into the kernel (ModuleIndex::builtin)
// and not there as a file is left out. A name that is not there throws std::runtime_error
// "kernel module X not found in DIR" (with which module needed it, and the request that led
// there); a dependency cycle throws naming it ("a -> b -> a").
inline std::vector<KernelModule> resolve_modules(const ModuleIndex& index, const std::vector<std::string>& names) {
  enum class Mark { visiting, done };
  std::map<std::string, Mark, std::less<>> marks;
  std::vector<KernelModule> order;
  std::vector<std::string> path;  // the chain being visited, requested module first

  auto visit = [&](auto& self, const std::string& name) -> void {
    if (auto m = marks.find(name); m != marks.end()) {
      if (m->second == Mark::done) return;
      std::string cycle;
      for (auto it = std::find(path.begin(), path.end(), name); it != path.end(); ++it) cycle += *it + " -> ";
      throw std::runtime_error("kernel module dependency cycle: " + cycle + name);
    }
    const KernelModule* km = index.find(name);
    if (!km && index.builtin(name)) {
      marks[name] = Mark::done;
      return;
    }
    if (!km) {
      std::string msg = "kernel module " + name + " not found in " + index.dir().string();
      if (!path.empty()) {
        msg += " (needed by " + path.back();
        if (path.size() > 1) msg += ", a dependency of requested module " + path.front();
        else msg += ", requested";
        msg += ")";
      }
      throw std::runtime_error(msg);
    }
    marks[name] = Mark::visiting;
    path.push_back(name);
    for (const auto& soft : km->soft_pre)
      if (!index.builtin(soft))
        if (const KernelModule* p = index.provider(soft); p && !marks.contains(p->name)) self(self, p->name);
    for (const auto& d : km->depends) self(self, d);
    path.pop_back();
    marks[name] = Mark::done;
    order.push_back(*km);
  };
  for (const auto& n : names) visit(visit, detail::module_name(n));
  return order;
}

}  // namespace crumble::vm
