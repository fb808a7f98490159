// What a reader following a guide ends up with, and what a reviewer would flag.
//
//   ParsedGuide ──build_guide_world──▶ World (SUT zone purely from the guide's rows, the
//                                       personas from world::guide_baseline)
//               ──check_guide────────▶ findings, each naming its table row (line), the
//                                       RFC section or provider page, and the smallest fix
//                                       in the guide's own terms
//               ──guide_scenario─────▶ run::Scenario (expects inbox everywhere)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/guide/guide.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::guide {

struct GuideOptions {
  std::string domain;         // the reader's domain; "" = the guide's own example domain
  std::string ip;             // the reader's server IPv4; "" = the guide's own example IP
  std::string second_domain;  // the further domain of a "second domain" table; "" = the
                              // domain its own DMARC rua names, else "example.com"
};

enum class Severity { error, warning, note };
std::string_view to_string(Severity severity);

// One thing wrong (or worth saying) about the guide.
struct GuideFinding {
  Severity severity = Severity::error;
  std::string id;         // stable: "mx.no-a", "spf.server-not-covered", "rdns.mismatch"
  int line = 0;           // the guide line to blame (a table row, the rDNS sentence); 0 = none
  std::string row;        // that line's markdown, for reports
  std::string text;       // plain language: what is wrong and what happens because of it
  std::string reference;  // "RFC 5321 §5.1", "support.google.com/a/answer/81126"
  std::string fix;        // the smallest change, in the guide's terms
};

// One record the reader publishes, traced back to the row it came from.
struct RowRecord {
  world::Record record;
  int line = 0;
  TableKind kind = TableKind::primary;
};

// The names a check resolved the guide's placeholders to.
struct GuideNames {
  std::string domain;          // the reader's primary domain
  std::string ip;              // the reader's server IPv4
  std::string mx_host;         // the primary MX target, canonical
  std::string second_domain;   // "" when the guide has no second-domain table
  std::string guide_domain;    // the guide's own example values, replaced by the above
  std::string guide_ip;
};

struct GuideCheck {
  ParsedGuide guide;
  GuideNames names;
  world::World world;               // what a reader ends up with (DKIM: published at run time)
  std::vector<RowRecord> records;   // every record taken from a table row
  std::vector<GuideFinding> findings;  // in guide line order
  int errors() const;
  int warnings() const;
  bool ok() const { return errors() == 0; }
};

// Builds the world and runs every guide-level check. Throws GuideError when the guide has no
// usable DNS table or its placeholders cannot be resolved (and none were given).
GuideCheck check_guide(const ParsedGuide& guide, const GuideOptions& options = {});

// The guide's World as a scenario for the runner: probes to and from every persona,
// expecting inbox everywhere (what the guide promises its reader, §8: "满分 10 分").
run::Scenario guide_scenario(const GuideCheck& check, std::string_view name = "guide");

// The row to blame for a failing check of a run ("spf", "dkim", "dmarc", "iprev", "dns",
// "smtp"…): the guide line of the record that check read, or the rDNS sentence; 0 = none.
int blame_line(const GuideCheck& check, std::string_view check_name);

}  // namespace mailsim::guide
