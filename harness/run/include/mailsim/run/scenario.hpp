// Scenarios: the data a run starts from (DESIGN.md "Scenarios are data first"). YAML is the
// canonical form; Python builds the same objects. A scenario `extends:` another one (or the
// built-in `guide-baseline` world), adds named breakages, says which probes to send, and
// what it expects per direction and persona.
//
//   name: cloudflare-proxy-on
//   extends: guide-baseline
//   teaches: Proxied records resolve to Cloudflare, which carries no SMTP.
//   breakages:
//     - proxy.on: {name: mx}
//   expect:
//     outbound: {gmail: rejected, mailtester: "<= 6"}
//     inbound:  {all: unreachable}
//
// See docs/scenarios.md for every key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mailsim/world/baseline.hpp"
#include "mailsim/world/breakage.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::run {

// What happened to a message in the end (the Scorer's vocabulary).
enum class Disposition { inbox, spam, rejected, deferred, unreachable, not_sent };
std::string_view to_string(Disposition disposition);
std::optional<Disposition> disposition_from_string(std::string_view text);

// A bound on the /10 score: "<= 6", ">= 9", "10" (= exactly 10).
struct ScoreBound {
  enum class Op { eq, le, ge, lt, gt };
  Op op = Op::eq;
  double value = 10;
  bool matches(double score) const;
  std::string to_string() const;  // "<= 6"
  bool operator==(const ScoreBound&) const = default;
};
// Parses "<= 6", ">=9", "10", "== 7.5"; nullopt when it is not a bound in 0..10.
std::optional<ScoreBound> parse_score_bound(std::string_view text);

// What a scenario expects for one persona in one direction.
struct Expectation {
  std::optional<Disposition> disposition;
  std::optional<ScoreBound> score;
  // Enhanced status code the reply must carry ("5.7.25"), when the provider documents one.
  std::string enhanced_code;
  bool operator==(const Expectation&) const = default;
  std::string to_string() const;  // "rejected 5.7.25", "<= 6", "inbox, >= 9"
};

// Per-direction expectations; `all` applies to every persona without an entry of its own.
struct DirectionExpectations {
  std::optional<Expectation> all;
  std::map<std::string, Expectation> personas;  // "gmail" → …
  // The persona's own entry, else `all`, else nullopt (no expectation).
  std::optional<Expectation> for_persona(std::string_view persona) const;
  bool empty() const { return !all && personas.empty(); }
  bool operator==(const DirectionExpectations&) const = default;
};

struct Expectations {
  DirectionExpectations outbound;  // SUT → persona
  DirectionExpectations inbound;   // persona's sender → SUT
  bool operator==(const Expectations&) const = default;
};

// The message a probe sends.
struct MessageShape {
  std::size_t size = 0;          // target body size in octets; 0 = the natural test text
  bool html_only = false;        // text/html without a text/plain part (MIME_HTML_ONLY)
  std::vector<std::string> missing_headers;  // lowercase: "date", "message-id", "from", …
  bool bulk = false;             // the sender counts as a bulk sender (Gmail ≥ 5,000/day)
  std::string body;              // "" = the default probe text
  bool operator==(const MessageShape&) const = default;
};
// Headers a probe may leave out.
const std::vector<std::string>& omittable_headers();

struct Probes {
  std::vector<std::string> outbound;  // personas the SUT sends to (default: all five)
  std::vector<std::string> inbound;   // personas whose sender host sends to the SUT (default all)
  MessageShape message;
  bool operator==(const Probes&) const = default;
};
// The five persona names in report order (world::persona_domains()).
std::vector<std::string> all_personas();

struct Scenario {
  std::string name;
  std::string teaches;      // one plain sentence
  std::string extends;      // "guide-baseline" or another scenario's name
  std::optional<std::uint64_t> seed;
  world::BaselineOptions baseline;  // the built-in world's options (`baseline:` key)
  // The world after every world-stage breakage (inherited ones first).
  world::World world;
  // Every breakage, inherited first, publish-stage ones included (the runner applies those
  // when the SUT publishes its DKIM key).
  std::vector<world::Breakage> breakages;
  std::size_t inherited_breakages = 0;  // how many of `breakages` came from `extends`
  Probes probes;
  Expectations expect;
  std::string source_file;  // "" when built in code

  // The breakages this scenario itself adds (what save_yaml writes).
  std::vector<world::Breakage> own_breakages() const;
};

// Any error in a scenario file: "FILE:LINE:COL: error: what; valid: …".
class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The scenarios known by name, for `extends:`.
using Catalog = std::map<std::string, Scenario>;

// The built-in world's name.
inline constexpr const char* kGuideBaselineName = "guide-baseline";

// Loads one scenario. `extends:` names are looked up in `catalog` if given, else as
// <name>.yaml beside the file; `guide-baseline` falls back to the built-in world.
Scenario load_scenario_file(const std::filesystem::path& file, const Catalog* catalog = nullptr);
// The same from text; `source` names it in error messages.
Scenario load_scenario_text(std::string_view yaml, std::string_view source = "<string>",
                            const Catalog* catalog = nullptr);
// Every *.yaml in `dir`, resolved in dependency order (extends cycles are errors).
Catalog load_catalog(const std::filesystem::path& dir);

// Recomputes `world` as guide_baseline(baseline) + every world-stage breakage, in order —
// for scenarios built or edited in code (Python). Throws world::BreakageError.
void rebuild_world(Scenario& scenario);

// Canonical YAML: extends, own breakages, probes (only what differs from defaults), expect.
std::string save_yaml(const Scenario& scenario);
void save_yaml(const Scenario& scenario, const std::filesystem::path& file);

}  // namespace mailsim::run
