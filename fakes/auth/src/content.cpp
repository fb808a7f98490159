// Content shape: RFC 5322 §3.6 field counts, MIME structure (RFC 2045/2046), visible text,
// List-Unsubscribe (RFC 2369) and one-click unsubscribe (RFC 8058).
#include "mailsim/auth/content.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ascii.hpp"

namespace mailsim::auth {
namespace {

// MIME nesting bound: a hostile message cannot make the walk deep or long.
constexpr int kMaxMimeDepth = 8;
constexpr std::size_t kMaxMimeParts = 200;

using ascii::lower;
using ascii::trim;

// RFC 5322 §3.6 table: fields with max 1 occurrence.
constexpr std::string_view kSingleInstance[] = {
    "Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
    "Message-ID", "In-Reply-To", "References", "Subject"};

bool is_atext(char c) {
  // RFC 5322 §3.2.3 atext.
  if (ascii::is_alnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool dot_atom_text(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

// RFC 5322 §3.6.4: msg-id = "<" id-left "@" id-right ">", id-left = dot-atom-text,
// id-right = dot-atom-text / no-fold-literal ("[" *dtext "]").
bool valid_msg_id(std::string_view v) {
  v = trim(v);
  if (v.size() < 5 || v.front() != '<' || v.back() != '>') return false;
  v = v.substr(1, v.size() - 2);
  std::size_t at = v.find('@');
  if (at == std::string_view::npos || v.find('@', at + 1) != std::string_view::npos) return false;
  std::string_view left = v.substr(0, at), right = v.substr(at + 1);
  if (!dot_atom_text(left)) return false;
  if (right.size() >= 2 && right.front() == '[' && right.back() == ']') {
    std::string_view inner = right.substr(1, right.size() - 2);
    return std::none_of(inner.begin(), inner.end(), [](char c) {
      return c == '[' || c == ']' || c == '\\' || ascii::is_space(c);
    });
  }
  return dot_atom_text(right);
}

// A Content-Type parameter (RFC 2045 §5.1), quoted or not; "" when absent.
std::string content_param(std::string_view value, std::string_view param) {
  std::string low = lower(value);
  std::size_t pos = 0;
  while ((pos = low.find(';', pos)) != std::string::npos) {
    ++pos;
    std::size_t eq = low.find('=', pos);
    if (eq == std::string::npos) break;
    if (trim(std::string_view(low).substr(pos, eq - pos)) != param) continue;
    std::string_view rest = trim(value.substr(eq + 1));
    if (!rest.empty() && rest.front() == '"') {
      std::size_t close = rest.find('"', 1);
      return std::string(rest.substr(1, close == std::string_view::npos ? rest.size() - 1
                                                                         : close - 1));
    }
    std::size_t end = rest.find_first_of("; \t");
    return std::string(rest.substr(0, end));
  }
  return "";
}

std::string media_type(const Message& part) {
  const Header* ct = part.find("Content-Type");
  if (ct == nullptr) return "text/plain";  // RFC 2045 §5.2 default
  std::string_view v = ct->value;
  return lower(trim(v.substr(0, v.find(';'))));
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;  // callers checked ascii::is_xdigit
}

// Decodes the Content-Transfer-Encoding (RFC 2045 §6) so visible text is measured, not
// its encoding. An identity encoding (7bit, 8bit, binary, none) is the body itself: no
// copy; a decoded body goes into `storage`.
std::string_view decode_body(const Message& part, std::string& storage) {
  const Header* cte = part.find("Content-Transfer-Encoding");
  std::string enc = cte ? lower(trim(cte->value)) : "";
  const std::string& body = part.body;
  if (enc == "base64") {
    std::string& out = storage;
    out.reserve(body.size() / 4 * 3 + 3);
    int bits = 0;
    unsigned acc = 0;
    for (char c : body) {
      int v = base64_value(c);
      if (v < 0) continue;
      acc = (acc << 6) | static_cast<unsigned>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xFF);
      }
    }
    return out;
  }
  if (enc == "quoted-printable") {
    std::string& out = storage;
    out.reserve(body.size());
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '=' && i + 2 < body.size() + 0 && body[i + 1] == '\r' && body[i + 2] == '\n') {
        i += 2;  // soft line break
      } else if (body[i] == '=' && i + 2 < body.size() && ascii::is_xdigit(body[i + 1]) &&
                 ascii::is_xdigit(body[i + 2])) {
        out += static_cast<char>(hex_value(body[i + 1]) * 16 + hex_value(body[i + 2]));
        i += 2;
      } else {
        out += body[i];
      }
    }
    return out;
  }
  return body;
}

// Octets of the text a reader sees: HTML tags, comments, <style>/<script> content and
// entities dropped, white space runs counted as one space, leading and trailing white
// space not counted. Only the length is reported, so the text itself is never built; tag
// names are matched ignoring ASCII case in place rather than on a lowercased copy.
std::size_t visible_length(std::string_view text, bool html) {
  if (!html) {
    // Plain text: every octet counts except white space that follows white space (a run
    // counts once) or starts the text. Counted as "octets minus white space octets whose
    // predecessor is white space", which has no state across iterations and vectorises.
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    if (n == 0) return 0;
    auto space = [](unsigned char c) -> std::size_t {
      return static_cast<std::size_t>((c == ' ') | (static_cast<unsigned char>(c - '\t') <= 4));
    };
    std::size_t skipped = space(p[0]);  // nothing counted yet: as if after a space
    for (std::size_t i = 1; i < n; ++i) skipped += space(p[i]) & space(p[i - 1]);
    const std::size_t length = n - skipped;
    // A trailing run was counted as one space; trimmed text does not have it.
    return length > 0 && space(p[n - 1]) ? length - 1 : length;
  }
  std::size_t length = 0;
  bool space = true;  // the last octet counted was a space (or nothing was counted yet)
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (html && c == '<') {
      std::size_t end;
      if (text.compare(i, 4, "<!--") == 0) {
        end = text.find("-->", i);
        end = end == std::string_view::npos ? text.size() : end + 2;
      } else if (ascii::istarts_at(text, i, "<style") || ascii::istarts_at(text, i, "<script")) {
        std::string_view close = ascii::istarts_at(text, i, "<style") ? "</style" : "</script";
        end = ascii::ifind(text, close, i);
        end = end == std::string_view::npos ? text.size() : text.find('>', end);
        if (end == std::string_view::npos) end = text.size();
      } else {
        end = text.find('>', i);
        if (end == std::string_view::npos) end = text.size();
      }
      i = end;
      if (!space) {
        ++length;
        space = true;
      }
      continue;
    }
    if (html && c == '&') {
      std::size_t semi = text.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 8) {
        i = semi;
        c = 'x';  // one visible character for the entity
      }
    }
    if (ascii::is_space(c)) {
      if (!space) {
        ++length;
        space = true;
      }
      continue;
    }
    ++length;
    space = false;
  }
  // A trailing space run was counted as one space; trimmed text does not have it.
  return length > 0 && space ? length - 1 : length;
}

struct Leaf {
  std::string type;
  std::size_t visible = 0;  // visible_length of the decoded body (text/plain, text/html)
};

void collect_leaves(const Message& part, int depth, std::vector<Leaf>& leaves) {
  if (leaves.size() >= kMaxMimeParts) return;
  std::string type = media_type(part);
  if (type.starts_with("multipart/") && depth < kMaxMimeDepth) {
    const Header* ct = part.find("Content-Type");
    std::string boundary = ct ? content_param(ct->value, "boundary") : "";
    if (!boundary.empty()) {
      // RFC 2046 §5.1.1: parts are delimited by lines "--boundary", closed by "--boundary--".
      const std::string delimiter = "--" + boundary;
      std::string_view body = part.body;
      std::vector<std::string_view> parts;
      std::size_t pos = 0;
      std::size_t part_start = std::string_view::npos;
      while (pos <= body.size()) {
        std::size_t eol = body.find("\r\n", pos);
        std::string_view line = body.substr(pos, eol == std::string_view::npos ? std::string_view::npos
                                                                                : eol - pos);
        std::size_t next = eol == std::string_view::npos ? body.size() + 1 : eol + 2;
        if (line.starts_with(delimiter)) {
          if (part_start != std::string_view::npos) {
            std::size_t end = pos >= 2 ? pos - 2 : pos;  // the CRLF before belongs to the delimiter
            parts.push_back(body.substr(part_start, end > part_start ? end - part_start : 0));
          }
          if (trim(line.substr(delimiter.size())).starts_with("--")) break;
          part_start = std::min(next, body.size());
        }
        pos = next;
      }
      for (std::string_view p : parts) collect_leaves(Message::parse(p), depth + 1, leaves);
      return;
    }
  }
  Leaf leaf{std::move(type), 0};
  if (leaf.type == "text/plain" || leaf.type == "text/html") {
    std::string storage;
    leaf.visible = visible_length(decode_body(part, storage), leaf.type == "text/html");
  }
  leaves.push_back(std::move(leaf));
}

// How many fields carry this name (ASCII case-insensitive), without find_all's vector.
std::size_t count_fields(const Message& message, std::string_view name) {
  return static_cast<std::size_t>(
      std::count_if(message.headers.begin(), message.headers.end(),
                    [&](const Header& h) { return ascii::iequals(h.name, name); }));
}

}  // namespace

ContentResult check_content(const Message& message) {
  ContentResult out;
  out.from_count = static_cast<int>(count_fields(message, "From"));
  out.has_date = message.find("Date") != nullptr;
  const Header* mid = message.find("Message-ID");
  out.has_message_id = mid != nullptr;
  out.valid_message_id = mid != nullptr && valid_msg_id(mid->value);
  out.has_to = message.find("To") != nullptr;
  out.has_subject = message.find("Subject") != nullptr;
  for (std::string_view name : kSingleInstance)
    if (count_fields(message, name) > 1) out.duplicated_headers.emplace_back(name);

  std::vector<Leaf> leaves;
  collect_leaves(message, 0, leaves);
  bool has_plain = false, has_html = false;
  std::size_t plain = 0, html = 0;  // visible octets of the parts of each type, together
  for (const Leaf& leaf : leaves) {
    if (leaf.type == "text/plain") {
      has_plain = true;
      plain += leaf.visible;
    } else if (leaf.type == "text/html") {
      has_html = true;
      html += leaf.visible;
    }
  }
  out.html_only = has_html && !has_plain;
  out.body_length = has_plain ? plain : html;
  out.empty_body = out.body_length == 0;

  // RFC 2369 §3.2: List-Unsubscribe holds one or more <URI>s.
  bool https_uri = false;
  if (const Header* lu = message.find("List-Unsubscribe")) {
    out.list_unsubscribe = lu->value.find('<') != std::string::npos;
    https_uri = ascii::ifind(lu->value, "<https://", 0) != std::string_view::npos;
  }
  // RFC 8058 §3.1: List-Unsubscribe-Post must be exactly "List-Unsubscribe=One-Click" and
  // the List-Unsubscribe field must carry an HTTPS URI.
  if (const Header* post = message.find("List-Unsubscribe-Post"))
    out.one_click = trim(post->value) == "List-Unsubscribe=One-Click" && https_uri;

  out.trace.push_back({TraceStep::Kind::step,
                       fmt::format("From ×{}, Date {}, Message-ID {}, {} MIME leaf part(s), "
                                   "visible text {} octets{}",
                                   out.from_count, out.has_date ? "yes" : "no",
                                   !out.has_message_id ? "absent"
                                   : out.valid_message_id ? "valid" : "malformed",
                                   leaves.size(), out.body_length,
                                   out.html_only ? ", HTML only" : "")});

  std::vector<std::string> problems;
  if (out.from_count == 0) problems.push_back("no From field");
  if (!out.has_date) problems.push_back("no Date field");
  if (!out.duplicated_headers.empty())
    problems.push_back(fmt::format("{} appear(s) more than once",
                                   fmt::join(out.duplicated_headers, ", ")));
  if (problems.empty()) {
    out.result = Result::pass;
    out.cause = "Date and From present exactly once, no duplicated single-instance fields";
    if (!out.has_message_id) out.cause += "; no Message-ID (RFC 5322 §3.6.4 SHOULD)";
    else if (!out.valid_message_id) out.cause += "; Message-ID is not <left@right>";
  } else {
    out.result = Result::fail;
    out.cause = fmt::format("RFC 5322 §3.6: {}", fmt::join(problems, "; "));
  }
  return out;
}

}  // namespace mailsim::auth
