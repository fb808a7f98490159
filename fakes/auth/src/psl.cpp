// Public suffix list evaluation (https://publicsuffix.org/list/ "Algorithm").
#include "mailsim/auth/psl.hpp"

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace mailsim::auth {
namespace {

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string join(const std::vector<std::string>& labels, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < labels.size(); ++i) {
    if (i > from) out += '.';
    out += labels[i];
  }
  return out;
}

// Splits into labels; nullopt when a label is empty (leading dot, "a..b"). A single
// trailing dot (FQDN form) is accepted and dropped.
std::optional<std::vector<std::string>> split_labels(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty()) return std::nullopt;
  std::vector<std::string> labels;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = domain.find('.', start);
    std::string_view label = domain.substr(start, dot == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : dot - start);
    if (label.empty()) return std::nullopt;
    labels.emplace_back(label);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels;
}

}  // namespace

std::optional<std::string> punycode_decode(std::string_view input) {
  // RFC 3492 §6.2, with the parameters of §5.
  constexpr std::uint32_t kBase = 36, kTmin = 1, kTmax = 26, kSkew = 38, kDamp = 700,
                          kInitialBias = 72, kInitialN = 128;
  std::vector<std::uint32_t> output;
  std::size_t basic_end = input.rfind('-');
  std::size_t pos = 0;
  if (basic_end != std::string_view::npos) {
    for (std::size_t i = 0; i < basic_end; ++i) {
      auto c = static_cast<unsigned char>(input[i]);
      if (c >= 0x80) return std::nullopt;
      output.push_back(c);
    }
    pos = basic_end + 1;
  }
  std::uint32_t n = kInitialN, bias = kInitialBias;
  std::uint64_t i = 0;
  auto adapt = [&](std::uint64_t delta, std::uint64_t numpoints, bool first) {
    delta = first ? delta / kDamp : delta / 2;
    delta += delta / numpoints;
    std::uint32_t k = 0;
    while (delta > ((kBase - kTmin) * kTmax) / 2) {
      delta /= kBase - kTmin;
      k += kBase;
    }
    return static_cast<std::uint32_t>(k + (kBase - kTmin + 1) * delta / (delta + kSkew));
  };
  while (pos < input.size()) {
    std::uint64_t oldi = i, w = 1;
    for (std::uint32_t k = kBase;; k += kBase) {
      if (pos >= input.size()) return std::nullopt;
      char c = input[pos++];
      std::uint32_t digit;
      if (c >= '0' && c <= '9') digit = static_cast<std::uint32_t>(c - '0' + 26);
      else if (c >= 'a' && c <= 'z') digit = static_cast<std::uint32_t>(c - 'a');
      else if (c >= 'A' && c <= 'Z') digit = static_cast<std::uint32_t>(c - 'A');
      else return std::nullopt;
      i += digit * w;
      if (i > 0x10FFFF * 64ULL) return std::nullopt;  // overflow guard (§6.4)
      std::uint32_t t = k <= bias ? kTmin : (k >= bias + kTmax ? kTmax : k - bias);
      if (digit < t) break;
      w *= kBase - t;
      if (w > 0xFFFFFFFFULL) return std::nullopt;
    }
    bias = adapt(i - oldi, output.size() + 1, oldi == 0);
    n += static_cast<std::uint32_t>(i / (output.size() + 1));
    i %= output.size() + 1;
    if (n > 0x10FFFF) return std::nullopt;
    output.insert(output.begin() + static_cast<std::ptrdiff_t>(i), n);
    ++i;
  }
  std::string utf8;
  for (std::uint32_t cp : output) append_utf8(utf8, cp);
  return utf8;
}

PublicSuffixList PublicSuffixList::parse(std::string_view dat) {
  PublicSuffixList list;
  std::size_t start = 0;
  while (start < dat.size()) {
    std::size_t eol = dat.find('\n', start);
    std::string_view line = dat.substr(start, eol == std::string_view::npos ? std::string_view::npos
                                                                             : eol - start);
    start = eol == std::string_view::npos ? dat.size() : eol + 1;
    // "Each line is only read up to the first whitespace" (publicsuffix.org/list format).
    std::size_t ws = line.find_first_of(" \t\r");
    if (ws != std::string_view::npos) line = line.substr(0, ws);
    if (line.empty() || line.starts_with("//")) continue;
    std::string rule = lower_ascii(line);
    if (rule.starts_with("!")) {
      list.exceptions_.insert(rule.substr(1));
    } else if (rule.starts_with("*.")) {
      list.wildcards_.insert(rule.substr(2));
    } else {
      list.rules_.insert(rule);
    }
  }
  return list;
}

PublicSuffixList PublicSuffixList::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read the public suffix list " + path +
                             " (Debian package publicsuffix)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

const PublicSuffixList& PublicSuffixList::system() {
  static const PublicSuffixList list = load(kPublicSuffixListPath);
  return list;
}

std::size_t PublicSuffixList::suffix_labels(const std::vector<std::string>& labels) const {
  const std::size_t n = labels.size();
  // Every candidate rule is a tail of the joined name: join once, then look each tail up
  // through one per-thread key whose buffer is reused, instead of joining a new string per
  // candidate (this runs for every DMARC check, twice or more).
  thread_local std::string joined, key;
  joined = join(labels, 0);
  std::vector<std::size_t> start(n + 1);
  for (std::size_t i = 0, at = 0; i < n; ++i) {
    start[i] = at;
    at += labels[i].size() + 1;
  }
  start[n] = joined.size();
  auto tail_in = [&](const std::unordered_set<std::string>& set, std::size_t i) {
    key.assign(joined, start[i], std::string::npos);
    return set.contains(key);
  };
  std::size_t best = 1;  // "If no rules match, the prevailing rule is "*"."
  for (std::size_t i = 0; i < n; ++i) {
    // "If more than one rule matches, the prevailing rule is the one which is an exception
    // rule." The public suffix is then the exception minus its leftmost label.
    if (tail_in(exceptions_, i)) return n - i - 1;
    if (n - i > best && tail_in(rules_, i)) best = n - i;
    // "*.ck" matches any one label followed by "ck".
    if (i + 1 < n && n - i > best && tail_in(wildcards_, i + 1)) best = n - i;
  }
  return best;
}

namespace {

// The labels of `domain` lowercased (`labels`), and the same with "xn--" labels decoded
// for matching (`decoded`, filled only when there is such a label). false when malformed.
bool normalise(std::string_view domain, std::vector<std::string>& labels,
               std::vector<std::string>& decoded) {
  auto split = split_labels(domain);
  if (!split) return false;
  labels = std::move(*split);
  bool idn = false;
  for (std::string& label : labels) {
    for (char& c : label)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    idn = idn || label.starts_with("xn--");
  }
  if (idn) {
    decoded = labels;
    for (std::string& label : decoded)
      if (label.starts_with("xn--"))
        if (auto d = punycode_decode(std::string_view(label).substr(4))) label = *d;
  }
  return true;
}

}  // namespace

std::optional<std::string> PublicSuffixList::public_suffix(std::string_view domain) const {
  std::vector<std::string> labels, decoded;
  if (!normalise(domain, labels, decoded)) return std::nullopt;
  std::size_t k = suffix_labels(decoded.empty() ? labels : decoded);
  if (k > labels.size()) k = labels.size();
  return join(labels, labels.size() - k);
}

std::optional<std::string> PublicSuffixList::registrable_domain(std::string_view domain) const {
  // The public suffix (as public_suffix() finds it) plus one label, lowercased.
  std::vector<std::string> labels, decoded;
  if (!normalise(domain, labels, decoded)) return std::nullopt;
  std::size_t k = suffix_labels(decoded.empty() ? labels : decoded);
  if (k > labels.size()) k = labels.size();
  if (labels.size() <= k) return std::nullopt;
  return join(labels, labels.size() - k - 1);
}

}  // namespace mailsim::auth
