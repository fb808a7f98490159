#include "mailsim/smtp/reply.hpp"

#include <cctype>

#include <fmt/format.h>

#include "mailsim/smtp/status_codes.hpp"

namespace mailsim::smtp {

namespace {

// Splits "a\r\nb\n" into lines without their line ends; a trailing empty line is dropped.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

std::string Reply::wire() const {
  static const std::vector<std::string> kEmpty{""};
  const auto& text = lines.empty() ? kEmpty : lines;
  const std::string code_text = std::to_string(code);
  std::size_t size = 0;
  for (const auto& l : text) size += code_text.size() + 2 + enhanced.size() + l.size() + 2;
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::size_t start = out.size();
    // RFC 5321 §4.2.1: "-" after the code on every line but the last.
    out += code_text;
    out += i + 1 < text.size() ? '-' : ' ';
    if (!enhanced.empty()) {
      out += enhanced;
      out += ' ';
    }
    // RFC 5321 §4.2: reply text is HT and printable characters. A control character —
    // typically a bare CR from a client argument echoed back ("RCPT parameter … not
    // recognized") — would break the reply's framing, so it goes out as '?'. Bytes >= 0x80
    // stay (SMTPUTF8 replies, RFC 6531).
    for (char c : text[i])
      out += (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f' ? '?' : c;
    while (out.size() > start && out.back() == ' ') out.pop_back();
    out += "\r\n";
  }
  return out;
}

std::string Reply::summary() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += i == 0 ? " " : " / ";
    out += lines[i];
  }
  return out;
}

Reply Reply::parse(std::string_view wire) {
  Reply reply;
  reply.code = 0;
  reply.lines.clear();
  auto lines = split_lines(wire);
  if (lines.empty()) return reply;
  int code = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    // RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then SP or "-".
    if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) ||
        !std::isdigit(static_cast<unsigned char>(line[2])))
      return Reply{0, {}, {}, "malformed reply line"};
    int this_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (i == 0) code = this_code;
    if (this_code != code) return Reply{0, {}, {}, "reply lines with different codes"};
    const bool last = i + 1 == lines.size();
    if (line.size() > 3) {
      if (line[3] == '-' && last) return Reply{0, {}, {}, "incomplete multi-line reply"};
      if (line[3] != '-' && line[3] != ' ') return Reply{0, {}, {}, "malformed reply line"};
      if (line[3] == ' ' && !last) return Reply{0, {}, {}, "text after the last reply line"};
    }
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    // RFC 2034 §4: the enhanced code starts the text of each line when the server uses them.
    auto sp = text.find(' ');
    std::string_view first = text.substr(0, sp);
    if (esc::well_formed(first) && first[0] == line[0]) {
      if (reply.enhanced.empty()) reply.enhanced = std::string(first);
      text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    }
    reply.lines.emplace_back(text);
  }
  reply.code = code;
  return reply;
}

Reply make_reply(int code, std::string_view enhanced, std::string_view text,
                 std::string_view cause) {
  Reply reply;
  reply.code = code;
  reply.enhanced = std::string(enhanced);
  for (auto line : split_lines(text)) reply.lines.emplace_back(line);
  if (reply.lines.empty()) reply.lines.emplace_back();
  reply.cause = std::string(cause);
  return reply;
}

}  // namespace mailsim::smtp
