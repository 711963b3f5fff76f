// SPDX-License-Identifier: Apache-2.0
// crumble/oci/bundle.hpp — an OCI runtime bundle (config.json + its root) as a crumble container.
//
// What a caller (podman, containerd, the runtime-tools suite) puts in config.json becomes a
// container::Spec and the process to run: process.args/env/cwd/user, root.path, hostname. Every
// problem names its JSON path ("process.args[0]: not a string"). What a VM cannot honour yet is
// listed in `ignored` (the runtime logs it), never silently dropped.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../container/container.hpp"

namespace crumble::oci {

// A bundle that cannot be run: the message names the file and the JSON path.
struct BundleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bundle {
  std::filesystem::path dir;          // absolute
  std::filesystem::path rootfs;       // absolute
  std::vector<std::string> args;      // process.args
  bool terminal = false;              // process.terminal
  bool root_readonly = false;         // root.readonly: the root's writes are not copied back to rootfs
  container::Spec spec;               // rootfs, user, workdir, env, hostname, entrypoint = args
  nlohmann::json annotations = nlohmann::json::object();
  std::vector<std::string> ignored;   // what was accepted but is not applied, for the log
};

namespace bundle_detail {
[[noreturn]] inline void fail(const std::filesystem::path& file, const std::string& path, const std::string& what) {
  throw BundleError(file.string() + ": " + path + ": " + what);
}
inline const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::filesystem::path& file, const std::string& at,
                                    nlohmann::json::value_t type) {
  static const nlohmann::json none;
  if (!j.contains(key)) return none;
  const nlohmann::json& v = j.at(key);
  if (v.type() != type) fail(file, at + key, std::string("expected ") + nlohmann::json(type).type_name() + ", got " + v.type_name());
  return v;
}
inline std::vector<std::string> strings(const nlohmann::json& j, const std::filesystem::path& file, const std::string& at) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) fail(file, at + "[" + std::to_string(i) + "]", std::string("expected a string, got ") + j[i].type_name());
    out.push_back(j[i].get<std::string>());
  }
  return out;
}
}  // namespace bundle_detail

// Reads DIR/config.json.
inline Bundle read_bundle(const std::filesystem::path& dir) {
  using namespace bundle_detail;
  using T = nlohmann::json::value_t;
  Bundle b;
  b.dir = std::filesystem::absolute(dir);
  const std::filesystem::path file = b.dir / "config.json";
  std::ifstream in(file);
  if (!in) throw BundleError(file.string() + ": cannot be read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw BundleError(file.string() + ": not JSON: " + e.what());
  }
  if (!j.is_object()) fail(file, "(top)", "expected an object");
  const nlohmann::json& root = member(j, "root", file, "", T::object);
  if (root.is_null()) fail(file, "root", "missing");
  const nlohmann::json& path = member(root, "path", file, "root.", T::string);
  if (path.is_null()) fail(file, "root.path", "missing");
  b.rootfs = std::filesystem::path(path.get<std::string>());
  if (b.rootfs.is_relative()) b.rootfs = b.dir / b.rootfs;
  if (!std::filesystem::is_directory(b.rootfs)) fail(file, "root.path", b.rootfs.string() + " is not a directory");
  b.root_readonly = member(root, "readonly", file, "root.", T::boolean) == true;
  if (b.root_readonly) b.ignored.push_back("root.readonly (not enforced in the VM: the root's writes are thrown away with it, not copied back)");

  const nlohmann::json& process = member(j, "process", file, "", T::object);
  if (process.is_null()) fail(file, "process", "missing");
  const nlohmann::json& args = member(process, "args", file, "process.", T::array);
  b.args = strings(args, file, "process.args");
  if (b.args.empty()) fail(file, "process.args", "empty: nothing to run");
  b.terminal = member(process, "terminal", file, "process.", T::boolean) == true;
  b.spec.env = strings(member(process, "env", file, "process.", T::array), file, "process.env");
  if (const auto& cwd = member(process, "cwd", file, "process.", T::string); !cwd.is_null()) {
    b.spec.workdir = cwd.get<std::string>();
    if (b.spec.workdir.empty() || b.spec.workdir[0] != '/') fail(file, "process.cwd", "\"" + b.spec.workdir + "\" is not absolute");
  }
  if (const auto& user = member(process, "user", file, "process.", T::object); !user.is_null()) {
    // an id: a whole number 0 to 2^32-2 (-1 is no id); JSON's 1 is unsigned, 1.5 and -1 are not
    auto id = [&](const char* key) -> std::uint32_t {
      if (!user.contains(key)) return 0;
      const nlohmann::json& v = user.at(key);
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 0xfffffffeu)
        fail(file, std::string("process.user.") + key, "expected an id from 0 to 4294967294, got " + v.dump());
      return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    };
    b.spec.user = std::to_string(id("uid")) + ":" + std::to_string(id("gid"));
    if (!member(user, "additionalGids", file, "process.user.", T::array).empty()) b.ignored.push_back("process.user.additionalGids");
  }
  b.spec.no_new_privs = member(process, "noNewPrivileges", file, "process.", T::boolean) == true;
  for (const char* k : {"rlimits", "capabilities", "apparmorProfile", "oomScoreAdj", "selinuxLabel"})
    if (process.contains(k)) b.ignored.push_back(std::string("process.") + k);
  if (const auto& h = member(j, "hostname", file, "", T::string); !h.is_null()) b.spec.hostname = h.get<std::string>();
  if (const auto& a = member(j, "annotations", file, "", T::object); !a.is_null()) b.annotations = a;
  if (j.contains("mounts")) b.ignored.push_back("mounts (the container's own proc, sysfs, /dev, /dev/pts, /dev/shm, /tmp and /run are made)");
  if (j.contains("hooks")) b.ignored.push_back("hooks");
  if (const auto& linux_ = member(j, "linux", file, "", T::object); !linux_.is_null()) {
    // A VM has namespaces of its own: a host namespace to join (podman's and a pod's network
    // namespace) cannot be joined from inside it. Refusing would fail every podman run, whose
    // default network comes as one; so it is accepted, and logged: the container has the VM's
    // network (none yet), not that one.
    const nlohmann::json& ns = member(linux_, "namespaces", file, "linux.", T::array);
    for (std::size_t i = 0; i < ns.size(); ++i)
      if (ns[i].is_object() && ns[i].contains("path"))
        b.ignored.push_back("linux.namespaces[" + std::to_string(i) + "].path (" + ns[i].value("type", std::string("?")) + " " +
                            ns[i]["path"].dump() + "): the VM has namespaces of its own, and no network yet");
    b.ignored.push_back("linux (resources, devices, sysctl, seccomp, masked and read-only paths: the VM has its own)");
  }
  b.spec.rootfs = b.rootfs;
  b.spec.entrypoint = b.args;
  return b;
}

}  // namespace crumble::oci
