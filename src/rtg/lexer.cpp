// SPDX-License-Identifier: Apache-2.0
// src/rtg/lexer.cpp — see lexer.hpp.
#include <crumble/rtg/lexer.hpp>

#include <algorithm>
#include <array>

namespace crumble::rtg {
namespace {

constexpr std::array<std::string_view, 25> keywords{
    "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough",
    "for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range",
    "return", "select", "struct", "switch", "type", "var"};

// Longest first, so that "<<=" wins over "<<" and "<".
constexpr std::array<std::string_view, 48> operators{
    "<<=", ">>=", "&^=", "...", "&&", "||", "<-", "++", "--", "==", "!=", "<=", ">=", ":=", "+=", "-=",
    "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "&^", "+", "-", "*", "/", "%", "&", "|",
    "^", "<", ">", "=", "!", "(", ")", "[", "]", "{", "}", ",", ";", ".", ":", "~"};

bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
int digit_value(char c) {
  if (digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

Token token(Tok kind, Pos pos, std::string_view text, u128 value = 0, std::string bytes = {}, bool implicit = false) {
  Token t{kind, pos, text, 0, {}, false};
  t.value = value;
  t.bytes = std::move(bytes);
  t.implicit = implicit;
  return t;
}

class Lexer {
 public:
  explicit Lexer(const Source& s) : src_(s), t_(s.text) {}

  std::vector<Token> run() {
    while (true) {
      skip_space_and_comments();
      if (i_ >= t_.size()) break;
      const char c = t_[i_];
      if (letter(c)) ident();
      else if (digit(c) || (c == '.' && i_ + 1 < t_.size() && digit(t_[i_ + 1]))) number();
      else if (c == '\'') character();
      else if (c == '"') interpreted_string();
      else if (c == '`') raw_string();
      else op();
    }
    newline(static_cast<Pos>(t_.size()));
    out_.push_back(token(Tok::eof, static_cast<Pos>(t_.size()), {}));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::size_t at, std::string msg, std::string hint = {}) {
    throw Error(src_, static_cast<Pos>(at), std::move(msg), std::move(hint));
  }

  // Go's rule: a newline ends the statement after an identifier, a literal, one of the
  // keywords break/continue/fallthrough/return, or one of ++ -- ) ] }.
  void newline(Pos at) {
    if (out_.empty()) return;
    const Token& last = out_.back();
    bool ends = last.kind == Tok::ident || last.kind == Tok::integer || last.kind == Tok::character ||
                last.kind == Tok::string;
    if (last.kind == Tok::keyword)
      ends = last.text == "break" || last.text == "continue" || last.text == "fallthrough" || last.text == "return";
    if (last.kind == Tok::op)
      ends = last.text == "++" || last.text == "--" || last.text == ")" || last.text == "]" || last.text == "}";
    if (ends) out_.push_back(token(Tok::semicolon, at, "\n", 0, {}, true));
  }

  void skip_space_and_comments() {
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == ' ' || c == '\t' || c == '\r') ++i_;
      else if (c == '\n') newline(static_cast<Pos>(i_++));
      else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/') {
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '*') {
        std::size_t end = t_.find("*/", i_ + 2);
        if (end == std::string_view::npos) fail(i_, "comment not terminated", "close it with */");
        // A general comment containing newlines acts like a newline.
        if (t_.substr(i_, end - i_).find('\n') != std::string_view::npos) newline(static_cast<Pos>(i_));
        i_ = end + 2;
      } else return;
    }
  }

  void ident() {
    std::size_t s = i_;
    while (i_ < t_.size() && (letter(t_[i_]) || digit(t_[i_]))) ++i_;
    std::string_view w = t_.substr(s, i_ - s);
    Tok k = std::find(keywords.begin(), keywords.end(), w) != keywords.end() ? Tok::keyword : Tok::ident;
    out_.push_back(token(k, static_cast<Pos>(s), w));
  }

  void number() {
    std::size_t s = i_;
    int base = 10;
    if (t_[i_] == '0' && i_ + 1 < t_.size()) {
      char p = static_cast<char>(t_[i_ + 1] | 0x20);
      if (p == 'x') base = 16, i_ += 2;
      else if (p == 'b') base = 2, i_ += 2;
      else if (p == 'o') base = 8, i_ += 2;
      else if (digit(t_[i_ + 1]) || t_[i_ + 1] == '_') base = 8, ++i_;  // 0755
    }
    u128 v = 0;
    bool any = false, too_big = false, bad_digit = false;
    std::size_t bad_at = 0;
    while (i_ < t_.size() && (digit_value(t_[i_]) < 16 || t_[i_] == '_' || letter(t_[i_]) || digit(t_[i_]))) {
      char c = t_[i_];
      if (c == '_') {
        ++i_;
        continue;
      }
      int d = digit_value(c);
      if (base == 10 && (c == 'e' || c == 'E')) break;  // an exponent: a float, reported below
      if ((base == 16 && (c == 'p' || c == 'P')) || c == 'i') break;  // hex float, imaginary: below
      if (d >= base) {
        if (!bad_digit) bad_at = i_;
        bad_digit = true;
        ++i_;
        continue;
      }
      if (v > (~u128{0} - static_cast<u128>(d)) / static_cast<u128>(base)) too_big = true;
      v = v * static_cast<u128>(base) + static_cast<u128>(d);
      any = true;
      ++i_;
    }
    if (i_ < t_.size() && (t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E' || t_[i_] == 'p' || t_[i_] == 'P' || t_[i_] == 'i'))
      fail(s, "floating-point and complex numbers are not supported", "RTG has integers only");
    if (bad_digit) fail(bad_at, "invalid digit '" + std::string(1, t_[bad_at]) + "' in base " + std::to_string(base) + " literal");
    if (!any && base != 8) fail(s, "number has no digits");
    if (too_big || v > u128{~std::uint64_t{0}})
      fail(s, "integer constant too large", "integers are at most 64 bits (0xffffffffffffffff)");
    out_.push_back(token(Tok::integer, static_cast<Pos>(s), t_.substr(s, i_ - s), v));
  }

  // One escape after the backslash at i_; appends its bytes (UTF-8 for \u and \U) to out and
  // returns its value. `quote` is the quote that may be escaped.
  u128 escape(char quote, std::string& out) {
    std::size_t at = i_;
    if (++i_ >= t_.size()) fail(at, "escape sequence not terminated");
    char c = t_[i_++];
    auto hex = [&](int n, int base) {
      u128 v = 0;
      for (int k = 0; k < n; ++k) {
        if (i_ >= t_.size() || digit_value(t_[i_]) >= base) fail(at, "invalid escape sequence", "write \\x41, \\101, \\u00e9 or \\U0001f600");
        v = v * static_cast<u128>(base) + static_cast<u128>(digit_value(t_[i_++]));
      }
      return v;
    };
    u128 v;
    switch (c) {
      case 'a': v = 7; break;
      case 'b': v = 8; break;
      case 'f': v = 12; break;
      case 'n': v = 10; break;
      case 'r': v = 13; break;
      case 't': v = 9; break;
      case 'v': v = 11; break;
      case '\\': v = '\\'; break;
      case 'x': v = hex(2, 16); out += static_cast<char>(v); return v;
      case 'u': case 'U': {
        v = hex(c == 'u' ? 4 : 8, 16);
        if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) fail(at, "escape is not a valid Unicode code point");
        utf8(static_cast<std::uint32_t>(v), out);
        return v;
      }
      default:
        if (c >= '0' && c <= '7') {
          --i_;
          v = hex(3, 8);
          if (v > 255) fail(at, "octal escape value above 255");
          out += static_cast<char>(v);
          return v;
        }
        if (c != quote) fail(at, "unknown escape sequence \\" + std::string(1, c), "write \\n, \\t, \\\\, \\x41, ...");
        v = static_cast<unsigned char>(c);
    }
    out += static_cast<char>(v);
    return v;
  }

  static void utf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xc0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
      out += static_cast<char>(0xe0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
          out += static_cast<char>(0x80 | (cp & 0x3f));
    else
      out += static_cast<char>(0xf0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), out += static_cast<char>(0x80 | (cp & 0x3f));
  }

  // Decodes one UTF-8 sequence at i_ (for a character literal like 'é').
  u128 utf8_char() {
    auto b = static_cast<unsigned char>(t_[i_]);
    int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + static_cast<std::size_t>(n) > t_.size()) fail(i_, "invalid UTF-8 in character literal");
    std::uint32_t v = n == 1 ? b : n == 2 ? (b & 0x1f) : n == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(t_[i_ + static_cast<std::size_t>(k)]);
      if ((c & 0xc0) != 0x80) fail(i_, "invalid UTF-8 in character literal");
      v = (v << 6) | (c & 0x3f);
    }
    i_ += static_cast<std::size_t>(n);
    return v;
  }

  void character() {
    std::size_t s = i_++;
    if (i_ >= t_.size() || t_[i_] == '\n') fail(s, "character literal not terminated");
    if (t_[i_] == '\'') fail(s, "empty character literal", "write a character between the quotes, e.g. 'a' or '\\n'");
    std::string ignored;
    u128 v = t_[i_] == '\\' ? escape('\'', ignored) : utf8_char();
    if (i_ >= t_.size() || t_[i_] != '\'') fail(s, "character literal not terminated or more than one character");
    ++i_;
    out_.push_back(token(Tok::character, static_cast<Pos>(s), t_.substr(s, i_ - s), v));
  }

  void interpreted_string() {
    std::size_t s = i_++;
    std::string bytes;
    while (true) {
      if (i_ >= t_.size() || t_[i_] == '\n') fail(s, "string literal not terminated");
      char c = t_[i_];
      if (c == '"') break;
      if (c == '\\') escape('"', bytes);
      else bytes += c, ++i_;
    }
    ++i_;
    out_.push_back(token(Tok::string, static_cast<Pos>(s), t_.substr(s, i_ - s), 0, std::move(bytes)));
  }

  void raw_string() {
    std::size_t s = i_++;
    std::size_t end = t_.find('`', i_);
    if (end == std::string_view::npos) fail(s, "raw string literal not terminated");
    std::string bytes;
    for (std::size_t k = i_; k < end; ++k)
      if (t_[k] != '\r') bytes += t_[k];  // Go drops carriage returns from raw strings
    // Newlines inside a raw string do not end a statement; the closing quote may.
    i_ = end + 1;
    out_.push_back(token(Tok::string, static_cast<Pos>(s), t_.substr(s, i_ - s), 0, std::move(bytes)));
  }

  void op() {
    for (std::string_view o : operators)
      if (o[0] == t_[i_] && t_.substr(i_, o.size()) == o) {
        Tok k = o == ";" ? Tok::semicolon : Tok::op;
        out_.push_back(token(k, static_cast<Pos>(i_), t_.substr(i_, o.size())));
        i_ += o.size();
        return;
      }
    auto c = static_cast<unsigned char>(t_[i_]);
    if (c >= 0x80) fail(i_, "non-ASCII character outside a string or comment", "RTG names are ASCII letters, digits and _");
    if (c < 0x20 || c == 0x7f) fail(i_, "invalid control character (byte " + std::to_string(c) + ")");
    fail(i_, std::string("unexpected character '") + static_cast<char>(c) + "'");
  }

  const Source& src_;
  std::string_view t_;
  std::size_t i_ = 0;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const Source& src) { return Lexer(src).run(); }

}  // namespace crumble::rtg
