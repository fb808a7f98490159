// Message parsing (RFC 5322 §2.2, §3.4): header fields as received, body, From domain.
#include "mailsim/auth/facts.hpp"

#include <algorithm>

#include "ascii.hpp"

namespace mailsim::auth {
namespace {

using ascii::iequals;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// SMTP carries CRLF (RFC 5321 §2.3.8); files and tests often carry LF. A bare LF becomes
// CRLF; an existing CRLF is left alone so DKIM sees the bytes it would see on the wire.
// Copies whole runs between bare LFs instead of a byte at a time: text that arrived over
// SMTP is already CRLF and is then one copy.
void to_crlf(std::string_view text, std::string& out) {
  std::size_t bare = 0;
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1))
    if (i == 0 || text[i - 1] != '\r') ++bare;
  out.clear();
  out.reserve(text.size() + bare);
  if (bare == 0) {
    out.append(text);
    return;
  }
  std::size_t start = 0;
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    if (i != 0 && text[i - 1] == '\r') continue;
    out.append(text.substr(start, i - start)).append("\r\n");
    start = i + 1;
  }
  out.append(text.substr(start));
}

// trim() in place: the value keeps its buffer (no second allocation per field).
void trim_in_place(std::string& s) {
  std::string_view t = trim(s);
  if (t.size() == s.size()) return;
  const std::size_t front = static_cast<std::size_t>(t.data() - s.data());
  s.erase(front + t.size());
  s.erase(0, front);
}

// RFC 5322 §2.2: field-name = 1*ftext, ftext = %d33-57 / %d59-126 (printable, no colon).
bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && u != ':';
  });
}

// Removes RFC 5322 §3.2.2 comments (nested, with quoted-pairs) outside quoted strings, and
// keeps quoted strings intact so an "@" or "<" inside a display name is not mistaken.
std::string strip_comments(std::string_view s) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {  // quoted-pair (§3.2.1)
      if (depth == 0) {
        out += c;
        out += s[i + 1];
      }
      ++i;
      continue;
    }
    if (quoted) {
      out += c;
      if (c == '"') quoted = false;
      continue;
    }
    if (c == '(') {
      ++depth;
      continue;
    }
    if (c == ')' && depth > 0) {
      --depth;
      if (depth == 0) out += ' ';
      continue;
    }
    if (depth > 0) continue;
    if (c == '"') quoted = true;
    out += c;
  }
  return out;
}

// Position of the first `target` outside quoted strings, or npos.
std::size_t find_unquoted(std::string_view s, char target, std::size_t from = 0) {
  bool quoted = false;
  for (std::size_t i = from; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      ++i;
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted && c == target) return i;
  }
  return std::string_view::npos;
}

}  // namespace

Message Message::parse(std::string_view text) {
  Message message;
  to_crlf(text, message.raw);
  // A typical message has a dozen or two fields; growing one at a time moves them all.
  message.headers.reserve(16);
  const std::string_view all = message.raw;
  std::size_t pos = 0;
  while (pos < all.size()) {
    std::size_t eol = all.find("\r\n", pos);
    std::size_t line_end = eol == std::string_view::npos ? all.size() : eol;
    std::size_t next = eol == std::string_view::npos ? all.size() : eol + 2;
    std::string_view line = all.substr(pos, line_end - pos);
    if (line.empty()) {  // the blank line between header and body (§2.1)
      pos = next;
      break;
    }
    if (is_wsp(line.front())) {
      // Continuation of a folded field (§2.2.3). With no field to continue, the header
      // section no longer makes sense: stop here and treat the rest as body.
      if (message.headers.empty()) break;
      Header& h = message.headers.back();
      h.raw += "\r\n";
      h.raw += line;
      // Unfolding removes the CRLF only, keeping the WSP that follows it.
      h.value += line;
      pos = next;
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) break;  // not a field: the header section ends
    // Obsolete syntax allows WSP between the name and the colon (§4.5.8); nothing else may
    // surround the name, so "raw" always starts with it.
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    if (!valid_field_name(name)) break;
    Header& h = message.headers.emplace_back();
    h.name.assign(name);
    h.value.assign(line.substr(colon + 1));
    h.raw.assign(line);
    pos = next;
  }
  for (Header& h : message.headers) trim_in_place(h.value);
  message.body.assign(all.substr(std::min(pos, all.size())));
  return message;
}

const Header* Message::find(std::string_view name) const {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

std::vector<const Header*> Message::find_all(std::string_view name) const {
  std::vector<const Header*> out;
  for (const Header& h : headers)
    if (iequals(h.name, name)) out.push_back(&h);
  return out;
}

std::string Message::from_domain() const {
  const Header* from = find("From");
  if (from == nullptr) return "";
  std::string value = strip_comments(from->value);
  std::string_view v = value;
  // name-addr (§3.4): the address is between angle brackets, after an optional display name.
  std::size_t lt = find_unquoted(v, '<');
  std::string_view addr;
  if (lt != std::string_view::npos) {
    std::size_t gt = v.find('>', lt);
    if (gt == std::string_view::npos) return "";
    addr = v.substr(lt + 1, gt - lt - 1);
  } else {
    // group syntax "Team: a@x, b@y;" (§3.4): skip the display name of the group.
    std::size_t colon = find_unquoted(v, ':');
    if (colon != std::string_view::npos) v.remove_prefix(colon + 1);
    // addr-spec, possibly the first of a mailbox-list (§3.6.2 allows several authors).
    std::size_t comma = find_unquoted(v, ',');
    addr = v.substr(0, comma);
    std::size_t semi = find_unquoted(addr, ';');
    addr = addr.substr(0, semi);
  }
  // obs-route "<@relay:user@dom>" (§4.4): the route ends at the last colon before "@".
  addr = trim(addr);
  std::size_t at = std::string_view::npos;
  {
    // The domain follows the last "@" that is outside a quoted local-part.
    bool quoted = false;
    for (std::size_t i = 0; i < addr.size(); ++i) {
      if (addr[i] == '\\' && i + 1 < addr.size()) {
        ++i;
        continue;
      }
      if (addr[i] == '"') quoted = !quoted;
      else if (!quoted && addr[i] == '@') at = i;
    }
  }
  if (at == std::string_view::npos) return "";
  std::string_view domain = trim(addr.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty()) return "";
  for (char c : domain)
    if (is_wsp(c) || c == '<' || c == '>' || c == '@' || c == '"' || c == ',') return "";
  return ascii::lower(domain);
}

}  // namespace mailsim::auth
