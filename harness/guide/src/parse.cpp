// Markdown → ParsedGuide with md4c (github.com/mity/md4c; Debian libmd4c-dev). md4c hands
// text out as pointers into the input buffer, so a row's line number is the offset of its
// first text; that is how every finding can name the guide line to fix.
#include "mailsim/guide/guide.hpp"
#include "mailsim/world/text.hpp"

#include <md4c.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/core.h>

namespace mailsim::guide {
namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

using world::lower;

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return haystack.find(n) != std::string_view::npos; });
}

// The state md4c's callbacks fill in.
struct Collector {
  std::string_view doc;
  std::vector<std::size_t> line_starts;  // offset of each line's first byte
  ParsedGuide out;

  // Leaf text blocks being assembled (a stack: a list item may hold paragraphs).
  struct Open {
    MD_BLOCKTYPE type;
    std::string text;
    int line = 0;
  };
  std::vector<Open> open;
  int code_depth = 0;

  // The table being read.
  bool in_table = false, in_head = false;
  int table_line = 0;
  std::vector<std::string> headers;
  std::vector<std::vector<std::pair<std::string, int>>> body;  // cells with their line
  std::vector<std::pair<std::string, int>> row;
  std::string section, last_paragraph;
  std::vector<GuideTable> all_tables;  // including non-DNS tables (dropped at the end)
  std::vector<std::string> all_leads;

  int line_of(const MD_CHAR* text) const {
    if (text < doc.data() || text >= doc.data() + doc.size()) return 0;
    auto off = static_cast<std::size_t>(text - doc.data());
    auto it = std::upper_bound(line_starts.begin(), line_starts.end(), off);
    return static_cast<int>(it - line_starts.begin());
  }
};

bool is_text_block(MD_BLOCKTYPE t) {
  return t == MD_BLOCK_P || t == MD_BLOCK_H || t == MD_BLOCK_LI || t == MD_BLOCK_TH ||
         t == MD_BLOCK_TD;
}

int enter_block(MD_BLOCKTYPE type, void*, void* userdata) {
  auto& c = *static_cast<Collector*>(userdata);
  switch (type) {
    case MD_BLOCK_CODE: ++c.code_depth; break;
    case MD_BLOCK_TABLE:
      c.in_table = true;
      c.headers.clear();
      c.body.clear();
      c.table_line = 0;
      break;
    case MD_BLOCK_THEAD: c.in_head = true; break;
    case MD_BLOCK_TR: c.row.clear(); break;
    default: break;
  }
  if (is_text_block(type)) c.open.push_back({type, {}, 0});
  return 0;
}

void finish_table(Collector& c) {
  GuideTable table;
  table.line = c.table_line;
  table.section = c.section;
  table.lead = c.last_paragraph;
  table.headers = c.headers;
  std::vector<std::string> roles;
  for (const auto& h : c.headers) roles.push_back(column_role(h));
  for (const auto& cells : c.body) {
    GuideRow r;
    for (std::size_t i = 0; i < cells.size() && i < roles.size(); ++i) {
      const std::string& v = cells[i].first;
      if (r.line == 0 && cells[i].second) r.line = cells[i].second;
      if (roles[i] == "type") r.type = v;
      else if (roles[i] == "host") r.host = v;
      else if (roles[i] == "value") r.value = v;
      else if (roles[i] == "note") r.note = v;
      else if (roles[i] == "priority") r.priority = v;
    }
    if (r.line > 0 && static_cast<std::size_t>(r.line) <= c.line_starts.size()) {
      std::size_t b = c.line_starts[static_cast<std::size_t>(r.line - 1)];
      std::size_t e = c.doc.find('\n', b);
      r.source = trim(c.doc.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    }
    table.rows.push_back(std::move(r));
  }
  c.all_tables.push_back(std::move(table));
}

int leave_block(MD_BLOCKTYPE type, void*, void* userdata) {
  auto& c = *static_cast<Collector*>(userdata);
  if (is_text_block(type) && !c.open.empty()) {
    Collector::Open o = std::move(c.open.back());
    c.open.pop_back();
    std::string text = trim(o.text);
    if (type == MD_BLOCK_TH) {
      c.headers.push_back(text);
      if (!c.table_line) c.table_line = o.line;
    } else if (type == MD_BLOCK_TD) {
      c.row.emplace_back(text, o.line);
    } else if (!text.empty()) {
      c.out.prose.push_back({o.line, text});
      if (type == MD_BLOCK_H) {
        c.section = text;
        c.last_paragraph.clear();
      } else {
        c.last_paragraph = text;
      }
    }
  }
  switch (type) {
    case MD_BLOCK_CODE: --c.code_depth; break;
    case MD_BLOCK_THEAD: c.in_head = false; break;
    case MD_BLOCK_TR:
      if (!c.in_head) c.body.push_back(c.row);
      break;
    case MD_BLOCK_TABLE:
      finish_table(c);
      c.in_table = false;
      break;
    default: break;
  }
  return 0;
}

int enter_span(MD_SPANTYPE, void*, void*) { return 0; }
int leave_span(MD_SPANTYPE, void*, void*) { return 0; }

int text_cb(MD_TEXTTYPE type, const MD_CHAR* text, MD_SIZE size, void* userdata) {
  auto& c = *static_cast<Collector*>(userdata);
  if (c.code_depth > 0 || c.open.empty()) return 0;
  auto& o = c.open.back();
  if (o.line == 0) o.line = c.line_of(text);
  switch (type) {
    case MD_TEXT_SOFTBR:
    case MD_TEXT_BR: o.text += ' '; break;
    case MD_TEXT_NULLCHAR: break;
    default: o.text.append(text, size);
  }
  return 0;
}

// "12.34.56.78" anywhere in a sentence.
const std::regex& ipv4_re() {
  static const std::regex re(R"((?:^|[^0-9.])((?:\d{1,3}\.){3}\d{1,3})(?![0-9.]))");
  return re;
}
// A host name with at least one dot and a letter TLD.
const std::regex& host_re() {
  static const std::regex re(R"(([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}))");
  return re;
}
const std::regex& mailbox_re() {
  static const std::regex re(R"(([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}))");
  return re;
}

// Guide §3's sentence: mentions rDNS / PTR / 反向解析 and names a host to point at.
std::optional<RdnsInstruction> find_rdns(const std::vector<ProseBlock>& prose) {
  for (const auto& p : prose) {
    std::string l = lower(p.text);
    if (!contains_any(l, {"rdns", "ptr", "reverse dns", "反向解析", "反解"})) continue;
    if (!contains_any(l, {"指向", "point", "set", "设置", "→", "->", " to "})) continue;
    RdnsInstruction r;
    r.line = p.line;
    r.text = p.text;
    std::smatch m;
    if (std::regex_search(p.text, m, ipv4_re())) r.ip = m[1];
    // The target is the last host name of the sentence ("… 的 rDNS 指向 mx.nodeseek.com").
    for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), host_re());
         it != std::sregex_iterator(); ++it) {
      std::string h = (*it)[1];
      if (std::regex_match(h, std::regex(R"([0-9.]+)"))) continue;
      r.target = lower(h);
    }
    if (!r.target.empty()) return r;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(TableKind kind) {
  return kind == TableKind::primary ? "primary" : "second-domain";
}

std::string column_role(std::string_view header) {
  std::string h = lower(header);
  if (contains_any(h, {"类型", "type"})) return "type";
  if (contains_any(h, {"优先级", "priority", "pref"})) return "priority";
  if (h == "ttl") return "ttl";
  if (contains_any(h, {"备注", "说明", "note", "comment", "remark"})) return "note";
  if (contains_any(h, {"主机", "前缀", "名称", "记录名", "host", "name"})) return "host";
  if (contains_any(h, {"内容", "值", "value", "content", "target", "data", "points to", "指向"}))
    return "value";
  return "";
}

ParsedGuide parse_guide(std::string_view markdown, std::string_view file) {
  Collector c;
  c.doc = markdown;
  c.out.file = file;
  c.line_starts.push_back(0);
  for (std::size_t i = 0; i < markdown.size(); ++i)
    if (markdown[i] == '\n') c.line_starts.push_back(i + 1);

  MD_PARSER parser{};
  parser.abi_version = 0;
  parser.flags = MD_FLAG_TABLES;
  parser.enter_block = enter_block;
  parser.leave_block = leave_block;
  parser.enter_span = enter_span;
  parser.leave_span = leave_span;
  parser.text = text_cb;
  if (md_parse(markdown.data(), static_cast<MD_SIZE>(markdown.size()), &parser, &c) != 0)
    throw GuideError(fmt::format("{}: md4c could not parse the markdown",
                                 file.empty() ? "<guide>" : std::string(file)));

  // Keep only DNS tables: a type, a host and a value column.
  for (auto& t : c.all_tables) {
    bool type = false, host = false, value = false;
    for (const auto& h : t.headers) {
      auto role = column_role(h);
      type |= role == "type";
      host |= role == "host";
      value |= role == "value";
    }
    if (!(type && host && value)) continue;
    std::string where = lower(t.section + " " + t.lead);
    if (contains_any(where, {"其他域名", "其它域名", "第二个域名", "另一个域名", "其他的域名",
                             "other domain", "second domain", "another domain",
                             "additional domain"}))
      t.kind = TableKind::second_domain;
    c.out.tables.push_back(std::move(t));
  }

  c.out.rdns = find_rdns(c.out.prose);

  // Mailboxes the reader is told to create: an address in a sentence about creating one.
  for (const auto& p : c.out.prose) {
    std::string l = lower(p.text);
    if (!contains_any(l, {"创建", "新建", "添加", "create", "add "})) continue;
    for (auto it = std::sregex_iterator(p.text.begin(), p.text.end(), mailbox_re());
         it != std::sregex_iterator(); ++it) {
      std::string mb = lower((*it)[1].str());
      if (std::find(c.out.created_mailboxes.begin(), c.out.created_mailboxes.end(), mb) ==
          c.out.created_mailboxes.end())
        c.out.created_mailboxes.push_back(mb);
    }
  }

  // Placeholders. The IP: the first primary A row's value, else the rDNS sentence's.
  for (const auto& t : c.out.tables) {
    if (t.kind != TableKind::primary) continue;
    for (const auto& r : t.rows)
      if (lower(trim(r.type)) == "a" && c.out.ip.empty()) c.out.ip = trim(r.value);
  }
  if (c.out.ip.empty() && c.out.rdns) c.out.ip = c.out.rdns->ip;
  // The domain: the primary MX target minus the label of an A row that names it
  // ("mx.nodeseek.com" with `A mx` → nodeseek.com); else the target minus its first label.
  for (const auto& t : c.out.tables) {
    if (t.kind != TableKind::primary || !c.out.domain.empty()) continue;
    for (const auto& r : t.rows) {
      if (lower(trim(r.type)) != "mx") continue;
      std::string target = lower(trim(r.value));
      if (auto sp = target.find_last_of(' '); sp != std::string::npos) target = target.substr(sp + 1);
      while (!target.empty() && target.back() == '.') target.pop_back();
      if (target.find('.') == std::string::npos) continue;
      for (const auto& a : t.rows) {
        std::string label = lower(trim(a.host));
        if (lower(trim(a.type)) == "a" && !label.empty() && label != "@" &&
            target.rfind(label + ".", 0) == 0) {
          c.out.domain = target.substr(label.size() + 1);
          break;
        }
      }
      if (c.out.domain.empty()) c.out.domain = target.substr(target.find('.') + 1);
      break;
    }
  }
  return std::move(c.out);
}

ParsedGuide parse_guide_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw GuideError(fmt::format("{}: cannot open the guide for reading", file.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_guide(ss.str(), file.string());
}

}  // namespace mailsim::guide
