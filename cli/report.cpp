// Output of `modctx check` (see report.hpp).
#include "report.hpp"

#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

namespace modctx::cli {

namespace {

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    size_t n;
    unsigned min;
    unsigned cp;
    if (c < 0x80) { ++p; continue; }
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

std::string base64(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (two ? static_cast<unsigned char>(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A JSON string; invalid UTF-8 bytes become U+FFFD.
std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const char* status_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::valid: return "valid";
    case Outcome::invalid: return "invalid";
    default: return "unreadable";
  }
}

}  // namespace

void print_single(const Verdict& verdict) {
  switch (verdict.outcome) {
    case Outcome::valid:
      std::cout << "OK\n" << verdict.describe << '\n';
      break;
    case Outcome::invalid:
      std::cout << code_name(verdict.code) << '\n' << verdict.message << '\n';
      break;
    case Outcome::unreadable:
      std::cerr << "modctx: " << verdict.diagnostic << '\n';
      break;
  }
}

int print_usage_error(const std::string& message, const std::string& usage) {
  std::cerr << "modctx: " << message << '\n' << usage;
  return kExitUnusable;
}

std::string json_line(const std::string& path, const Verdict& verdict) {
  std::string line = "{\"path\": " + json_string(path);
  if (!valid_utf8(path)) line += ", \"path_bytes\": \"" + base64(path) + "\"";
  line += ", \"status\": \"";
  line += status_name(verdict.outcome);
  line += "\"";
  if (verdict.outcome == Outcome::valid) {
    line += ", \"code\": null, \"message\": null, \"describe\": " + json_string(verdict.describe);
  } else {
    line += ", \"code\": \"";
    line += code_name(verdict.code);
    line += "\", \"message\": " + json_string(verdict.message);
  }
  line += "}\n";
  return line;
}

std::string text_line(const std::string& path, const Verdict& verdict) {
  if (verdict.outcome == Outcome::valid) return path + ": OK\n";
  return path + ": " + code_name(verdict.code) + ": " + verdict.message + "\n";
}

Report::Report(Format format, bool verbose, size_t total, Clock::time_point started)
    : format_(format), verbose_(verbose), total_(total), tty_(::isatty(STDERR_FILENO) == 1),
      stdout_tty_(::isatty(STDOUT_FILENO) == 1),
      started_(started), last_progress_(started) {}

void Report::add(const std::string& path, const Verdict& verdict) {
  switch (verdict.outcome) {
    case Outcome::valid: ++valid_; break;
    case Outcome::invalid: ++invalid_; break;
    case Outcome::unreadable: ++unreadable_; break;
  }
  const bool print = format_ == Format::json || verbose_ || verdict.outcome != Outcome::valid;
  if (print) {
    if (stdout_tty_) clear_progress();  // the same terminal, most likely: the line replaces the progress
    std::cout << (format_ == Format::json ? json_line(path, verdict) : text_line(path, verdict));
  }
  if (tty_) progress();
}

void Report::progress() {
  const auto now = Clock::now();
  if (now - started_ < std::chrono::seconds(1)) return;
  if (now - last_progress_ < std::chrono::milliseconds(100)) return;  // at most 10 a second
  // Result lines first, should standard output be the same terminal.
  std::cout.flush();
  std::cerr << "\rmodctx: " << (valid_ + invalid_ + unreadable_) << "/" << total_ << " files checked" << std::flush;
  progress_shown_ = true;
  last_progress_ = now;
}

void Report::clear_progress() {
  if (!progress_shown_) return;
  std::cerr << "\r\033[K" << std::flush;
  progress_shown_ = false;
}

int Report::finish() {
  clear_progress();
  if (format_ == Format::text)
    std::cout << (valid_ + invalid_ + unreadable_) << " checked: " << valid_ << " valid, " << invalid_ << " invalid, "
              << unreadable_ << " unreadable\n";
  std::cout.flush();
  if (unreadable_) return exit_status(Outcome::unreadable);
  if (invalid_) return exit_status(Outcome::invalid);
  return exit_status(Outcome::valid);
}

}  // namespace modctx::cli
