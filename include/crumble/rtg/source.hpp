// SPDX-License-Identifier: Apache-2.0
// crumble/rtg/source.hpp — an RTG source file and the error that points into it.
//
// Every rejection, from the lexer to the translator, is an rtg::Error: the position, the
// message and, for constructs RTG leaves out, what to write instead. what() is the full report
//
//   init.go:12:5: undefined: count
//   	count++
//   	^
//
// so a tool can print it as it is.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crumble::rtg {

struct Source {
  std::string file;  // the name reports use
  std::string text;
};

// A byte offset into Source::text.
using Pos = std::uint32_t;

class Error : public std::runtime_error {
 public:
  Error(const Source& src, Pos pos, std::string message, std::string hint = {})
      : std::runtime_error(format(src, pos, message, hint)), message_(std::move(message)), hint_(std::move(hint)) {
    locate(src.text, pos, line_, column_);
  }
  int line() const { return line_; }
  int column() const { return column_; }  // 1-based, in bytes (as Go counts)
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }

  static void locate(std::string_view text, Pos pos, int& line, int& column) {
    line = 1;
    std::size_t start = 0;
    for (std::size_t i = 0; i < pos && i < text.size(); ++i)
      if (text[i] == '\n') ++line, start = i + 1;
    column = static_cast<int>(pos - start) + 1;
  }

 private:
  static std::string format(const Source& src, Pos pos, const std::string& message, const std::string& hint) {
    int line = 0, column = 0;
    locate(src.text, pos, line, column);
    std::size_t start = pos <= src.text.size() ? pos : src.text.size();
    while (start > 0 && src.text[start - 1] != '\n') --start;
    std::size_t end = src.text.find('\n', start);
    if (end == std::string::npos) end = src.text.size();
    std::string_view text(src.text.data() + start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    std::string out = src.file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message + "\n\t";
    out.append(text);
    out += "\n\t";
    // The caret lines up under the column: keep the line's tabs, blank everything else.
    // (UTF-8 continuation bytes take no screen column.)
    for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(column) && i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) out += text[i] == '\t' ? '\t' : ' ';
    out += "^\n";
    if (!hint.empty()) out += "\t" + hint + "\n";
    return out;
  }

  std::string message_, hint_;
  int line_ = 0, column_ = 0;
};

}  // namespace crumble::rtg
