// A markdown setup guide (such as ../shared/reference/posteio-guide.md) read as data: its
// DNS record tables (type / host / value / note columns in any order, Chinese or English
// headers), its rDNS instruction, the mailboxes it creates and the placeholders (the
// guide's own example domain and IP) a reader replaces with their own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailsim::guide {

// What a table is for, judged from its section heading and the sentence before it.
enum class TableKind {
  primary,        // the main domain's records (guide §2)
  second_domain,  // "示例其他域名 DNS 记录" / "other domain": a further hosted domain (§7)
};
std::string_view to_string(TableKind kind);

// One row of a DNS table, exactly as the guide prints it.
struct GuideRow {
  int line = 0;          // 1-based line of the row in the markdown source
  std::string type;      // "A", "MX", "TXT" as written (trimmed)
  std::string host;      // "@", "mx", "_dmarc", "s2025xxxxxxx._domainkey"
  std::string value;     // "12.34.56.78", "v=spf1 a mx -all"
  std::string note;      // "优先级 10" …
  std::string priority;  // a priority column, when the table has one
  std::string source;    // the row's markdown line, for reports
};

struct GuideTable {
  int line = 0;            // line of the header row
  std::string section;     // nearest heading above ("2. 域名 DNS 的设置（第一部分）")
  std::string lead;        // the paragraph just before the table
  TableKind kind = TableKind::primary;
  std::vector<std::string> headers;
  std::vector<GuideRow> rows;
};

// Guide §3: "设置服务器 IP（如 `12.34.56.78`）的 rDNS 指向 `mx.nodeseek.com`".
struct RdnsInstruction {
  int line = 0;
  std::string ip;      // may be "" when the sentence names no address
  std::string target;  // the host name the PTR should carry
  std::string text;    // the sentence
};

// A prose sentence (paragraph, list item, heading, quote) with its line.
struct ProseBlock {
  int line = 0;
  std::string text;
};

struct ParsedGuide {
  std::string file;                     // where it was read from ("" for text)
  std::vector<GuideTable> tables;       // DNS tables only (type+host+value columns)
  std::optional<RdnsInstruction> rdns;
  std::vector<ProseBlock> prose;        // every non-code text block, in order
  // Mailboxes the guide tells the reader to create ("创建管理员账号（如 admin@nodeseek.com）").
  std::vector<std::string> created_mailboxes;
  // The guide's own placeholders, detected from its tables and prose.
  std::string domain;  // "nodeseek.com"
  std::string ip;      // "12.34.56.78"
};

class GuideError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses markdown with md4c (CommonMark + MD_FLAG_TABLES). Throws GuideError when md4c
// fails. `file` only names the source in results.
ParsedGuide parse_guide(std::string_view markdown, std::string_view file = "");
// Reads and parses a file; GuideError names the file when it cannot be read.
ParsedGuide parse_guide_file(const std::filesystem::path& file);

// Which column a table header names ("记录类型" → type, "Content" → value), or "" when
// it is none of type/host/value/note/priority/ttl.
std::string column_role(std::string_view header);

}  // namespace mailsim::guide
