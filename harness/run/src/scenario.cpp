// Scenario YAML: loading with FILE:LINE:COL errors (yaml-cpp marks), `extends:` resolution,
// and canonical saving. The world itself comes from world::guide_baseline + breakages.
#include "mailsim/run/scenario.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace mailsim::run {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDispositionNames[] = {"inbox", "spam", "rejected",
                                                  "deferred", "unreachable", "not_sent"};

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

[[noreturn]] void fail(const std::string& file, const YAML::Mark& mark, const std::string& what) {
  if (mark.is_null()) throw ScenarioError(fmt::format("{}: error: {}", file, what));
  throw ScenarioError(
      fmt::format("{}:{}:{}: error: {}", file, mark.line + 1, mark.column + 1, what));
}

// Checks a map's keys against the valid ones, naming them all on a miss.
void check_keys(const std::string& file, const YAML::Node& map, std::string_view where,
                const std::vector<std::string>& valid) {
  if (!map.IsMap()) fail(file, map.Mark(), fmt::format("{} must be a mapping", where));
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    if (std::find(valid.begin(), valid.end(), key) == valid.end())
      fail(file, kv.first.Mark(),
           fmt::format("unknown key '{}' in {}; valid: {}", key, where, join(valid)));
  }
}

std::string scalar(const std::string& file, const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) fail(file, n.Mark(), fmt::format("{} must be a single value", what));
  return n.Scalar();
}

bool boolean(const std::string& file, const YAML::Node& n, std::string_view what) {
  std::string s = scalar(file, n, what);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(file, n.Mark(), fmt::format("{} must be true or false, not '{}'", what, s));
}

std::uint64_t unsigned_value(const std::string& file, const YAML::Node& n, std::string_view what) {
  std::string s = scalar(file, n, what);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    fail(file, n.Mark(), fmt::format("{} must be a whole number, not '{}'", what, s));
  return v;
}

std::vector<std::string> persona_list(const std::string& file, const YAML::Node& n,
                                      std::string_view what) {
  auto valid = all_personas();
  if (n.IsScalar()) {
    if (n.Scalar() == "all") return valid;
    if (n.Scalar() == "none") return {};
  }
  if (!n.IsSequence())
    fail(file, n.Mark(), fmt::format("{} must be 'all', 'none' or a list of personas ({})",
                                     what, join(valid)));
  std::vector<std::string> out;
  for (const auto& item : n) {
    std::string p = scalar(file, item, what);
    if (std::find(valid.begin(), valid.end(), p) == valid.end())
      fail(file, item.Mark(), fmt::format("unknown persona '{}'; valid: {}", p, join(valid)));
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

// A scalar expectation: "inbox", "rejected 5.7.25", "<= 6", "10".
Expectation parse_expectation_scalar(const std::string& file, const YAML::Node& n) {
  std::string s = scalar(file, n, "an expectation");
  Expectation e;
  if (auto b = parse_score_bound(s)) {
    e.score = b;
    return e;
  }
  std::string word = s.substr(0, s.find(' '));
  auto d = disposition_from_string(word);
  if (!d) {
    std::vector<std::string> names(std::begin(kDispositionNames), std::end(kDispositionNames));
    fail(file, n.Mark(),
         fmt::format("bad expectation '{}'; valid: {}, or a score bound like \"<= 6\", \">= 9\", "
                     "\"10\"",
                     s, join(names)));
  }
  e.disposition = d;
  if (word.size() < s.size()) {
    std::string code = s.substr(s.find_first_not_of(' ', word.size()));
    // RFC 3463 §2: class.subject.detail, e.g. 5.7.25
    int dots = static_cast<int>(std::count(code.begin(), code.end(), '.'));
    if (dots != 2 || code.find_first_not_of("0123456789.") != std::string::npos ||
        (code[0] != '2' && code[0] != '4' && code[0] != '5'))
      fail(file, n.Mark(),
           fmt::format("bad enhanced status code '{}' after '{}'; expected e.g. 5.7.25 "
                       "(RFC 3463)",
                       code, word));
    e.enhanced_code = code;
  }
  return e;
}

Expectation parse_expectation(const std::string& file, const YAML::Node& n) {
  if (!n.IsMap()) return parse_expectation_scalar(file, n);
  check_keys(file, n, "an expectation", {"disposition", "score", "reply"});
  Expectation e;
  if (n["disposition"]) {
    e = parse_expectation_scalar(file, n["disposition"]);
    if (e.score) fail(file, n["disposition"].Mark(), "disposition must be a disposition, not a score");
  }
  if (n["score"]) {
    e.score = parse_score_bound(scalar(file, n["score"], "score"));
    if (!e.score)
      fail(file, n["score"].Mark(),
           fmt::format("bad score bound '{}'; expected e.g. \"<= 6\", \">= 9\", \"10\" (0..10)",
                       n["score"].Scalar()));
  }
  if (n["reply"]) e.enhanced_code = scalar(file, n["reply"], "reply");
  return e;
}

DirectionExpectations parse_direction(const std::string& file, const YAML::Node& n,
                                      std::string_view direction) {
  auto valid = all_personas();
  valid.push_back("all");
  check_keys(file, n, fmt::format("expect.{}", direction), valid);
  DirectionExpectations d;
  for (const auto& kv : n) {
    std::string who = kv.first.as<std::string>();
    Expectation e = parse_expectation(file, kv.second);
    if (who == "all")
      d.all = e;
    else
      d.personas[who] = e;
  }
  return d;
}

// One own breakage with where it was written.
struct Written {
  world::Breakage breakage;
  YAML::Mark mark;
};

std::vector<Written> parse_breakages(const std::string& file, const YAML::Node& n) {
  if (!n.IsSequence())
    fail(file, n.Mark(), "breakages must be a list, e.g. '- spf.set: {value: \"v=spf1 -all\"}'");
  std::vector<Written> out;
  for (const auto& item : n) {
    Written w;
    w.mark = item.Mark();
    if (item.IsScalar()) {
      w.breakage.name = item.Scalar();
    } else if (item.IsMap() && item.size() == 1) {
      auto kv = *item.begin();
      w.breakage.name = kv.first.as<std::string>();
      w.mark = kv.first.Mark();
      const YAML::Node& params = kv.second;
      if (params && !params.IsNull()) {
        if (!params.IsMap())
          fail(file, params.Mark(),
               fmt::format("parameters of {} must be a mapping like {{name: mx}}",
                           w.breakage.name));
        for (const auto& p : params) {
          std::string key = p.first.as<std::string>();
          if (!p.second.IsScalar())
            fail(file, p.second.Mark(),
                 fmt::format("{}: parameter '{}' must be a single value", w.breakage.name, key));
          w.breakage.params[key] = p.second.Scalar();
        }
      }
    } else {
      fail(file, item.Mark(), "each breakage is a name or one 'name: {params}' mapping");
    }
    try {
      world::validate_breakage(w.breakage);
    } catch (const world::BreakageError& e) {
      fail(file, w.mark, e.what());
    }
    out.push_back(std::move(w));
  }
  return out;
}

world::BaselineOptions parse_baseline(const std::string& file, const YAML::Node& n,
                                      world::BaselineOptions o) {
  check_keys(file, n, "baseline", {"domain", "mx", "server_ipv4", "server_ipv6", "root_a"});
  if (n["domain"]) o.domain = scalar(file, n["domain"], "baseline.domain");
  if (n["mx"]) o.mx_label = scalar(file, n["mx"], "baseline.mx");
  if (n["server_ipv4"]) o.server_ipv4 = scalar(file, n["server_ipv4"], "baseline.server_ipv4");
  if (n["server_ipv6"]) o.server_ipv6 = scalar(file, n["server_ipv6"], "baseline.server_ipv6");
  if (n["root_a"]) o.root_a = boolean(file, n["root_a"], "baseline.root_a");
  return o;
}

Probes parse_probes(const std::string& file, const YAML::Node& n, Probes p) {
  check_keys(file, n, "probes", {"outbound", "inbound", "message"});
  if (n["outbound"]) p.outbound = persona_list(file, n["outbound"], "probes.outbound");
  if (n["inbound"]) p.inbound = persona_list(file, n["inbound"], "probes.inbound");
  if (const auto m = n["message"]) {
    check_keys(file, m, "probes.message",
               {"size", "html_only", "missing_headers", "bulk", "body"});
    if (m["size"]) {
      auto size = unsigned_value(file, m["size"], "probes.message.size");
      // A size limit: probes are bounded (RFC 5321 §4.5.3.1.7 lets servers cap at will).
      if (size > 10 * 1024 * 1024)
        fail(file, m["size"].Mark(), "probes.message.size is capped at 10485760 octets");
      p.message.size = size;
    }
    if (m["html_only"]) p.message.html_only = boolean(file, m["html_only"], "html_only");
    if (m["bulk"]) p.message.bulk = boolean(file, m["bulk"], "bulk");
    if (m["body"]) p.message.body = scalar(file, m["body"], "body");
    if (const auto h = m["missing_headers"]) {
      if (!h.IsSequence()) fail(file, h.Mark(), "missing_headers must be a list");
      p.message.missing_headers.clear();
      const auto& valid = omittable_headers();
      for (const auto& item : h) {
        std::string name = scalar(file, item, "a header name");
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (std::find(valid.begin(), valid.end(), name) == valid.end())
          fail(file, item.Mark(),
               fmt::format("unknown header '{}' in missing_headers; valid: {}", name,
                           join(valid)));
        p.message.missing_headers.push_back(name);
      }
    }
  }
  return p;
}

// Loads scenarios and their `extends:` parents, detecting cycles.
class Loader {
 public:
  Loader(const Catalog* external, std::map<std::string, fs::path> files, fs::path search_dir)
      : external_(external), files_(std::move(files)), search_dir_(std::move(search_dir)) {}

  Scenario parse(const YAML::Node& root, const std::string& file, std::string default_name) {
    if (!root.IsMap()) fail(file, root.Mark(), "a scenario must be a mapping (name:, extends:, …)");
    check_keys(file, root, "a scenario",
               {"name", "teaches", "extends", "seed", "baseline", "breakages", "probes",
                "expect"});
    Scenario s;
    s.source_file = file;
    s.name = root["name"] ? scalar(file, root["name"], "name") : std::move(default_name);
    if (s.name.empty()) fail(file, root.Mark(), "the scenario has no name");
    if (root["teaches"]) s.teaches = scalar(file, root["teaches"], "teaches");
    s.probes.outbound = all_personas();
    s.probes.inbound = all_personas();

    const Scenario* parent = nullptr;
    if (const auto ext = root["extends"]) {
      s.extends = scalar(file, ext, "extends");
      if (s.extends == s.name && s.extends != kGuideBaselineName)
        fail(file, ext.Mark(), fmt::format("scenario '{}' extends itself", s.name));
      if (s.extends != s.name) parent = find(s.extends, file, ext.Mark());
      if (!parent && s.extends != kGuideBaselineName)
        fail(file, ext.Mark(), fmt::format("unknown scenario '{}' in extends; valid: {}",
                                           s.extends, join(known_names())));
    }
    if (parent) {
      s.seed = parent->seed;
      s.baseline = parent->baseline;
      s.breakages = parent->breakages;
      s.inherited_breakages = s.breakages.size();
      s.probes = parent->probes;
      // Expectations are not inherited: a breakage changes what should happen.
    }
    if (root["seed"]) s.seed = unsigned_value(file, root["seed"], "seed");
    YAML::Mark baseline_mark = root.Mark();
    if (const auto b = root["baseline"]) {
      baseline_mark = b.Mark();
      s.baseline = parse_baseline(file, b, s.baseline);
    }
    std::vector<Written> own;
    if (root["breakages"]) own = parse_breakages(file, root["breakages"]);
    if (root["probes"]) s.probes = parse_probes(file, root["probes"], s.probes);
    if (const auto e = root["expect"]) {
      check_keys(file, e, "expect", {"outbound", "inbound"});
      if (e["outbound"]) s.expect.outbound = parse_direction(file, e["outbound"], "outbound");
      if (e["inbound"]) s.expect.inbound = parse_direction(file, e["inbound"], "inbound");
    }

    // The world: the baseline, then every world-stage breakage in order.
    try {
      s.world = world::guide_baseline(s.baseline);
    } catch (const std::invalid_argument& e) {
      fail(file, baseline_mark, e.what());
    }
    try {
      world::apply_breakages(s.world, s.breakages, world::BreakageStage::world);
    } catch (const world::BreakageError& e) {
      fail(file, root.Mark(), fmt::format("inherited breakage from '{}': {}", s.extends, e.what()));
    }
    for (const auto& w : own) {
      try {
        world::apply_breakages(s.world, {w.breakage}, world::BreakageStage::world);
      } catch (const world::BreakageError& e) {
        fail(file, w.mark, e.what());
      }
      s.breakages.push_back(w.breakage);
    }
    return s;
  }

  const Scenario* find(const std::string& name, const std::string& file, const YAML::Mark& mark) {
    if (external_) {
      auto it = external_->find(name);
      if (it != external_->end()) return &it->second;
    }
    if (auto it = done_.find(name); it != done_.end()) return &it->second;
    if (std::find(visiting_.begin(), visiting_.end(), name) != visiting_.end()) {
      std::vector<std::string> chain(
          std::find(visiting_.begin(), visiting_.end(), name), visiting_.end());
      chain.push_back(name);
      fail(file, mark, fmt::format("extends cycle: {}", fmt::join(chain, " → ")));
    }
    fs::path path;
    if (auto it = files_.find(name); it != files_.end()) {
      path = it->second;
    } else if (!search_dir_.empty() && fs::exists(search_dir_ / (name + ".yaml"))) {
      path = search_dir_ / (name + ".yaml");
    } else {
      return nullptr;
    }
    visiting_.push_back(name);
    Scenario s = load(path);
    visiting_.pop_back();
    if (s.name != name)
      fail(file, mark, fmt::format("extends '{}' found {} but it is named '{}'", name,
                                   path.string(), s.name));
    return &done_.emplace(name, std::move(s)).first->second;
  }

  Scenario load(const fs::path& path) {
    std::string file = path.string();
    YAML::Node root;
    try {
      root = YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
      throw ScenarioError(fmt::format("{}: error: cannot read the file", file));
    } catch (const YAML::ParserException& e) {
      fail(file, e.mark, e.msg);
    }
    return parse(root, file, path.stem().string());
  }

  std::vector<std::string> known_names() const {
    std::set<std::string> names{kGuideBaselineName};
    if (external_)
      for (const auto& [n, s] : *external_) names.insert(n);
    for (const auto& [n, p] : files_) names.insert(n);
    if (!search_dir_.empty() && fs::is_directory(search_dir_))
      for (const auto& entry : fs::directory_iterator(search_dir_))
        if (entry.path().extension() == ".yaml") names.insert(entry.path().stem().string());
    return {names.begin(), names.end()};
  }

  Catalog take() { return std::move(done_); }

 private:
  const Catalog* external_;
  std::map<std::string, fs::path> files_;
  fs::path search_dir_;
  Catalog done_;
  std::vector<std::string> visiting_;
};

void emit_expectation(YAML::Emitter& out, const Expectation& e) {
  if (e.disposition && e.score) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "disposition" << YAML::Value << std::string(to_string(*e.disposition));
    out << YAML::Key << "score" << YAML::Value << e.score->to_string();
    if (!e.enhanced_code.empty()) out << YAML::Key << "reply" << YAML::Value << e.enhanced_code;
    out << YAML::EndMap;
  } else {
    out << YAML::DoubleQuoted << e.to_string();
  }
}

void emit_direction(YAML::Emitter& out, const char* key, const DirectionExpectations& d) {
  if (d.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  if (d.all) {
    out << YAML::Key << "all" << YAML::Value;
    emit_expectation(out, *d.all);
  }
  for (const auto& p : all_personas()) {
    auto it = d.personas.find(p);
    if (it == d.personas.end()) continue;
    out << YAML::Key << p << YAML::Value;
    emit_expectation(out, it->second);
  }
  out << YAML::EndMap;
}

std::string format_number(double v) {
  std::string s = fmt::format("{}", v);
  return s;
}

}  // namespace

// ---- small vocabularies ---------------------------------------------------------------------

std::string_view to_string(Disposition d) { return kDispositionNames[static_cast<int>(d)]; }

std::optional<Disposition> disposition_from_string(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kDispositionNames); ++i)
    if (kDispositionNames[i] == text) return static_cast<Disposition>(i);
  return std::nullopt;
}

bool ScoreBound::matches(double score) const {
  constexpr double kEps = 1e-9;
  switch (op) {
    case Op::eq: return std::abs(score - value) < kEps;
    case Op::le: return score <= value + kEps;
    case Op::ge: return score >= value - kEps;
    case Op::lt: return score < value - kEps;
    case Op::gt: return score > value + kEps;
  }
  return false;
}

std::string ScoreBound::to_string() const {
  switch (op) {
    case Op::eq: return format_number(value);
    case Op::le: return "<= " + format_number(value);
    case Op::ge: return ">= " + format_number(value);
    case Op::lt: return "< " + format_number(value);
    case Op::gt: return "> " + format_number(value);
  }
  return "?";
}

std::optional<ScoreBound> parse_score_bound(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  ScoreBound b;
  struct OpText {
    std::string_view text;
    ScoreBound::Op op;
  };
  constexpr OpText kOps[] = {{"<=", ScoreBound::Op::le}, {">=", ScoreBound::Op::ge},
                             {"==", ScoreBound::Op::eq}, {"<", ScoreBound::Op::lt},
                             {">", ScoreBound::Op::gt},  {"=", ScoreBound::Op::eq}};
  for (const auto& o : kOps)
    if (text.substr(0, o.text.size()) == o.text) {
      b.op = o.op;
      text = trim(text.substr(o.text.size()));
      break;
    }
  if (text.empty()) return std::nullopt;
  // std::from_chars for double is in GCC 11+; accept digits and one dot only.
  if (text.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  try {
    std::size_t used = 0;
    b.value = std::stod(std::string(text), &used);
    if (used != text.size()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (b.value < 0 || b.value > 10) return std::nullopt;
  return b;
}

std::string Expectation::to_string() const {
  std::string out;
  if (disposition) out = std::string(run::to_string(*disposition));
  if (!enhanced_code.empty()) out += (out.empty() ? "" : " ") + enhanced_code;
  if (score) out += (out.empty() ? "" : ", ") + score->to_string();
  return out;
}

std::optional<Expectation> DirectionExpectations::for_persona(std::string_view persona) const {
  auto it = personas.find(std::string(persona));
  if (it != personas.end()) return it->second;
  return all;
}

const std::vector<std::string>& omittable_headers() {
  static const std::vector<std::string> h{"date", "message-id", "from", "to", "subject",
                                          "mime-version"};
  return h;
}

std::vector<std::string> all_personas() {
  std::vector<std::string> out;
  for (const auto& p : world::persona_domains()) out.push_back(p.persona);
  return out;
}

std::vector<world::Breakage> Scenario::own_breakages() const {
  return {breakages.begin() + static_cast<std::ptrdiff_t>(
                                  std::min(inherited_breakages, breakages.size())),
          breakages.end()};
}

// ---- loading --------------------------------------------------------------------------------

Scenario load_scenario_file(const std::filesystem::path& file, const Catalog* catalog) {
  Loader loader(catalog, {}, file.parent_path());
  return loader.load(file);
}

Scenario load_scenario_text(std::string_view yaml, std::string_view source,
                            const Catalog* catalog) {
  std::string file(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    fail(file, e.mark, e.msg);
  }
  Loader loader(catalog, {}, {});
  return loader.parse(root, file, "");
}

Catalog load_catalog(const std::filesystem::path& dir) {
  if (!fs::is_directory(dir))
    throw ScenarioError(fmt::format("{}: error: not a directory of scenarios", dir.string()));
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  // First pass: names only, so `extends:` can find any file whatever its file name.
  std::map<std::string, fs::path> files;
  for (const auto& p : paths) {
    std::string name = p.stem().string();
    YAML::Node root;
    try {
      root = YAML::LoadFile(p.string());
    } catch (const YAML::ParserException& e) {
      fail(p.string(), e.mark, e.msg);
    }
    if (root.IsMap() && root["name"] && root["name"].IsScalar()) name = root["name"].Scalar();
    if (auto [it, fresh] = files.emplace(name, p); !fresh)
      fail(p.string(), root["name"] ? root["name"].Mark() : root.Mark(),
           fmt::format("scenario name '{}' is already used by {}", name, it->second.string()));
  }
  Loader loader(nullptr, files, {});
  for (const auto& [name, path] : files) loader.find(name, path.string(), YAML::Mark::null_mark());
  return loader.take();
}

void rebuild_world(Scenario& scenario) {
  scenario.world = world::guide_baseline(scenario.baseline);
  world::apply_breakages(scenario.world, scenario.breakages, world::BreakageStage::world);
}

// ---- saving ---------------------------------------------------------------------------------

std::string save_yaml(const Scenario& s) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << s.name;
  if (!s.extends.empty()) out << YAML::Key << "extends" << YAML::Value << s.extends;
  if (!s.teaches.empty()) out << YAML::Key << "teaches" << YAML::Value << s.teaches;
  if (s.seed) out << YAML::Key << "seed" << YAML::Value << *s.seed;
  const world::BaselineOptions d;
  const auto& b = s.baseline;
  if (b.domain != d.domain || b.mx_label != d.mx_label || b.server_ipv4 != d.server_ipv4 ||
      b.server_ipv6 != d.server_ipv6 || b.root_a != d.root_a) {
    out << YAML::Key << "baseline" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "domain" << YAML::Value << b.domain;
    out << YAML::Key << "mx" << YAML::Value << b.mx_label;
    out << YAML::Key << "server_ipv4" << YAML::Value << b.server_ipv4;
    if (!b.server_ipv6.empty()) out << YAML::Key << "server_ipv6" << YAML::Value << b.server_ipv6;
    out << YAML::Key << "root_a" << YAML::Value << b.root_a;
    out << YAML::EndMap;
  }
  auto own = s.own_breakages();
  if (!own.empty()) {
    out << YAML::Key << "breakages" << YAML::Value << YAML::BeginSeq;
    for (const auto& br : own) {
      if (br.params.empty()) {
        out << br.name;
        continue;
      }
      out << YAML::BeginMap << YAML::Key << br.name << YAML::Value << YAML::Flow
          << YAML::BeginMap;
      for (const auto& [k, v] : br.params)
        out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
      out << YAML::EndMap << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  const Probes defaults{all_personas(), all_personas(), {}};
  if (!(s.probes == defaults)) {
    out << YAML::Key << "probes" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "outbound" << YAML::Value << YAML::Flow << s.probes.outbound;
    out << YAML::Key << "inbound" << YAML::Value << YAML::Flow << s.probes.inbound;
    const auto& m = s.probes.message;
    if (!(m == MessageShape{})) {
      out << YAML::Key << "message" << YAML::Value << YAML::BeginMap;
      if (m.size) out << YAML::Key << "size" << YAML::Value << m.size;
      if (m.html_only) out << YAML::Key << "html_only" << YAML::Value << true;
      if (!m.missing_headers.empty())
        out << YAML::Key << "missing_headers" << YAML::Value << YAML::Flow << m.missing_headers;
      if (m.bulk) out << YAML::Key << "bulk" << YAML::Value << true;
      if (!m.body.empty()) out << YAML::Key << "body" << YAML::Value << m.body;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  if (!s.expect.outbound.empty() || !s.expect.inbound.empty()) {
    out << YAML::Key << "expect" << YAML::Value << YAML::BeginMap;
    emit_direction(out, "outbound", s.expect.outbound);
    emit_direction(out, "inbound", s.expect.inbound);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void save_yaml(const Scenario& scenario, const std::filesystem::path& file) {
  std::ofstream f(file);
  if (!f) throw ScenarioError(fmt::format("{}: error: cannot write the file", file.string()));
  f << save_yaml(scenario);
  if (!f.flush())
    throw ScenarioError(fmt::format("{}: error: writing failed", file.string()));
}

}  // namespace mailsim::run
