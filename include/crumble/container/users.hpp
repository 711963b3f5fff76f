// SPDX-License-Identifier: Apache-2.0
// crumble/container/users.hpp — `-u/--user` as docker and podman mean it: a user spec resolved
// against the container root's /etc/passwd and /etc/group (kept beside its image by root_cache.hpp),
// never the host's.
//
// The rules are runc's (libcontainer/user GetExecUser, which docker and podman use), plus docker's
// putting the primary gid first among the supplementary groups:
//   ""               uid 0; its gid, home and groups from passwd's uid-0 entry if there is one
//   "name" | "uid"   that user's entry (first match); a numeric uid without one is allowed, gid 0
//   "...:group"      the gid of that group (a name must exist in group; a number need not);
//                    then no supplementary groups but the primary one, as runc does
//   groups           without an explicit group and with a user known by name: the primary gid,
//                    then every group whose member list names the user
// The files are parsed by glibc's fgetpwent_r/fgetgrent_r: the parsers behind every
// /etc/passwd lookup on the system, which skip malformed lines as login does.
#pragma once

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"

namespace crumble::container {

struct User {
  std::uint32_t uid = 0, gid = 0;
  std::vector<std::uint32_t> groups;  // supplementary groups, the primary gid first
  std::string home = "/";             // from passwd (empty if its entry's is); "/" when the user has no entry
};

namespace users_detail {

// A digits-only id (what runc takes as numeric), at most 2^31-1 as runc allows; nullopt for a
// name. Out of range is a malformed spec.
inline std::optional<std::uint32_t> numeric_id(std::string_view s, std::string_view spec) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > 0x7fffffff) throw ContainerError("user spec `" + std::string(spec) + "`: id " + std::string(s) + " is out of range (at most 2147483647)");
  }
  return static_cast<std::uint32_t>(v);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// The file, or null when it does not exist (an image without /etc/passwd: only numeric specs work).
inline File open_db(const std::filesystem::path& path) {
  if (path.empty()) return nullptr;
  File f(std::fopen(path.c_str(), "re"));
  if (!f && errno != ENOENT && errno != ENOTDIR)
    throw ImageError("cannot read " + path.string() + " (the image's user database): " + std::strerror(errno));
  return f;
}

// Calls `visit` on each entry of `f` read by `next` (fgetpwent_r or fgetgrent_r) until it returns
// true. On ERANGE the line is read again with a larger buffer (as glibc's own fgetpwent does).
template <typename Entry, typename Next, typename Visit>
void for_each_entry(std::FILE* f, Next next, Visit visit) {
  if (!f) return;
  std::vector<char> buf(16384);
  for (;;) {
    Entry e{};
    Entry* got = nullptr;
    std::fpos_t at;
    std::fgetpos(f, &at);
    const int r = next(f, &e, buf.data(), buf.size(), &got);
    if (r == ERANGE && buf.size() < (64u << 20)) {
      buf.resize(buf.size() * 4);
      std::fsetpos(f, &at);
      continue;
    }
    if (r != 0 || !got) return;  // ENOENT: the end
    if (visit(*got)) return;
  }
}

}  // namespace users_detail

// Resolves `spec` ("", "name", "uid", "name:group", "uid:gid", "name:gid", "uid:group") against
// `passwd` and `group`, files of the container's root (either may be missing or an empty path:
// then only numeric ids work). ContainerError for a user or group that the files do not have and
// for a malformed spec.
inline User resolve_user(std::string_view spec, const std::filesystem::path& passwd, const std::filesystem::path& group) {
  using namespace users_detail;
  const auto colon = spec.find(':');
  const std::string_view user_arg = spec.substr(0, colon);
  const std::string_view group_arg = colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
  auto malformed = [&](const std::string& why) {
    return ContainerError("malformed user spec `" + std::string(spec) + "`: " + why + " (give NAME|UID[:GROUP|GID])");
  };
  if (colon != std::string_view::npos && (user_arg.empty() || group_arg.empty())) throw malformed("a user and a group on both sides of `:`");
  if (group_arg.find(':') != std::string_view::npos) throw malformed("more than one `:`");
  for (char c : spec)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) throw malformed("a control character");

  User u;
  const std::optional<std::uint32_t> uid_arg = numeric_id(user_arg, spec);
  const std::optional<std::uint32_t> gid_arg = numeric_id(group_arg, spec);

  // The user: by uid when numeric (the empty spec is uid 0), else by name; the first match wins.
  std::string matched_name;
  bool matched = false;
  {
    File f = open_db(passwd);
    for_each_entry<struct passwd>(f.get(), ::fgetpwent_r, [&](const struct passwd& pw) {
      const bool hit = user_arg.empty() ? pw.pw_uid == 0 : uid_arg ? pw.pw_uid == *uid_arg : user_arg == pw.pw_name;
      if (!hit) return false;
      matched = true;
      matched_name = pw.pw_name ? pw.pw_name : "";
      u.uid = pw.pw_uid, u.gid = pw.pw_gid;
      u.home = pw.pw_dir ? pw.pw_dir : "";  // an entry's empty home stays empty (HOME=), as with runc
      return true;
    });
  }
  if (!matched && !user_arg.empty()) {
    if (!uid_arg) throw ContainerError("user " + std::string(user_arg) + " does not exist in the image (its /etc/passwd)");
    u.uid = *uid_arg;  // a uid the image does not list is allowed, as in docker: gid 0 unless given
  }

  // The group, explicit or (for a user known by name) the groups listing it.
  std::vector<std::uint32_t> listing;
  if (!group_arg.empty() || !matched_name.empty()) {
    bool found = false;
    File f = open_db(group);
    for_each_entry<struct group>(f.get(), ::fgetgrent_r, [&](const struct group& gr) {
      if (!group_arg.empty()) {
        if (gid_arg ? gr.gr_gid != *gid_arg : group_arg != gr.gr_name) return false;
        found = true;
        u.gid = gr.gr_gid;
        return true;
      }
      for (char** m = gr.gr_mem; m && *m; ++m)
        if (matched_name == *m) {
          listing.push_back(gr.gr_gid);
          break;
        }
      return false;
    });
    if (!group_arg.empty() && !found) {
      if (!gid_arg) throw ContainerError("group " + std::string(group_arg) + " does not exist in the image (its /etc/group)");
      u.gid = *gid_arg;
    }
  }
  u.groups.push_back(u.gid);
  for (std::uint32_t g : listing)
    if (std::find(u.groups.begin(), u.groups.end(), g) == u.groups.end()) u.groups.push_back(g);
  return u;
}

}  // namespace crumble::container
