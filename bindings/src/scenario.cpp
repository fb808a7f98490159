// Python view of mailsim::run's Scenario model: breakages (by the same names as in YAML),
// probes, expectations, YAML load/save, `extends`, and the catalog.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <pybind11/operators.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/world/breakage.hpp"

namespace mailsim::python {

namespace {

using run::Scenario;
using world::Breakage;

// Where `catalog()` and `extends:` look: $MAILSIM_CATALOG, else the source tree's catalog.
std::filesystem::path catalog_dir() {
  if (const char* env = std::getenv("MAILSIM_CATALOG"); env && *env) return env;
  return std::filesystem::path(MAILSIM_SOURCE_DIR) / "scenarios" / "catalog";
}

// The catalog is read once per process (it is 20 small files); reload=True re-reads it.
std::mutex catalog_mutex;
std::optional<run::Catalog> catalog_cache;

const run::Catalog& cached_catalog(bool reload) {
  std::lock_guard lock(catalog_mutex);
  if (reload || !catalog_cache) catalog_cache = run::load_catalog(catalog_dir());
  return *catalog_cache;
}

// Quotes a string so that YAML reads it back unchanged (a JSON string is a YAML flow scalar).
std::string yaml_quote(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

std::string param_text(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value))
    return py::str(value).cast<std::string>();
  throw py::type_error(fmt::format("breakage parameters are str, int, float or bool, not {}",
                                   py::str(value.get_type().attr("__name__")).cast<std::string>()));
}

namespace {

std::map<std::string, std::string> params_from(const py::dict& kwargs) {
  std::map<std::string, std::string> params;
  for (auto [k, v] : kwargs) params[k.cast<std::string>()] = param_text(v);
  return params;
}

std::string breakage_text(const Breakage& b) {
  if (b.params.empty()) return b.name;
  std::string s = b.name + ": {";
  bool first = true;
  for (const auto& [k, v] : b.params) {
    s += fmt::format("{}{}: {}", first ? "" : ", ", k, v);
    first = false;
  }
  return s + "}";
}

// `s.break_("dkim.truncate", at=255)`: validated by the C++ catalogue (the same messages as
// YAML), recorded as the scenario's own breakage, and applied now when it acts on the world;
// publish-stage breakages (the DKIM key) wait for the runner, as in YAML.
Scenario& add_breakage(Scenario& s, const std::string& name, const py::kwargs& kwargs) {
  Breakage b{name, params_from(kwargs)};
  world::validate_breakage(b);
  const world::BreakageInfo* info = world::find_breakage(name);
  if (info && info->stage == world::BreakageStage::world) world::apply_breakage(s.world, b);
  s.breakages.push_back(std::move(b));
  return s;
}

// Removes the scenario's own breakages of that name and recomputes the world.
std::size_t remove_breakage(Scenario& s, const std::string& name) {
  std::size_t removed = 0;
  for (std::size_t i = s.breakages.size(); i-- > s.inherited_breakages;) {
    if (s.breakages[i].name == name) {
      s.breakages.erase(s.breakages.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    }
  }
  if (removed) run::rebuild_world(s);
  return removed;
}

// Parses one expectation with the scenario loader itself (so the forms and the error
// messages are exactly those of YAML): "rejected 5.7.25", "<= 6", {"disposition": …}.
run::Expectation parse_expectation(const std::string& direction, const std::string& persona,
                                   const py::handle& value) {
  std::string text;
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json j = nlohmann::json::object();
    for (auto [k, v] : value.cast<py::dict>()) j[k.cast<std::string>()] = param_text(v);
    text = j.dump();
  } else {
    text = yaml_quote(param_text(value));
  }
  if (direction != "outbound" && direction != "inbound")
    throw run::ScenarioError(
        fmt::format("unknown direction '{}'; valid: outbound, inbound", direction));
  std::string yaml = fmt::format("name: expect\nexpect:\n  {}:\n    {}: {}\n", direction,
                                 yaml_quote(persona), text);
  Scenario parsed = run::load_scenario_text(
      yaml, fmt::format("<expect {} {}>", direction, persona));
  const auto& d = direction == "outbound" ? parsed.expect.outbound : parsed.expect.inbound;
  if (persona == "all") return *d.all;
  return d.personas.at(persona);
}

void set_expectation(Scenario& s, const std::string& direction, const std::string& persona,
                     const py::handle& value) {
  auto& d = direction == "inbound" ? s.expect.inbound : s.expect.outbound;
  if (value.is_none()) {
    if (persona == "all")
      d.all.reset();
    else
      d.personas.erase(persona);
    return;
  }
  run::Expectation e = parse_expectation(direction, persona, value);
  if (persona == "all")
    d.all = e;
  else
    d.personas[persona] = e;
}

// A new scenario that extends a catalog scenario (or the built-in guide-baseline world),
// built by the same loader as a YAML file with just these keys.
Scenario new_scenario(const std::string& name, const std::string& extends,
                      const std::string& teaches) {
  std::string yaml = "name: " + yaml_quote(name) + "\n";
  if (!extends.empty()) yaml += "extends: " + yaml_quote(extends) + "\n";
  if (!teaches.empty()) yaml += "teaches: " + yaml_quote(teaches) + "\n";
  const run::Catalog* cat = nullptr;
  if (!extends.empty() && extends != run::kGuideBaselineName) cat = &cached_catalog(false);
  return run::load_scenario_text(yaml, "<Scenario " + name + ">", cat);
}

py::object disposition_or_none(const std::optional<run::Disposition>& d) {
  if (!d) return py::none();
  return as_enum("Disposition", run::to_string(*d));
}

std::string direction_repr(const run::DirectionExpectations& d) {
  std::string s;
  if (d.all) s += "all: " + d.all->to_string();
  for (const auto& [p, e] : d.personas) s += (s.empty() ? "" : ", ") + p + ": " + e.to_string();
  return "{" + s + "}";
}

}  // namespace

void bind_scenario(py::module_& m) {
  py::class_<Breakage>(m, "Breakage", "One breakage as written in a scenario.")
      .def(py::init([](const std::string& name, const py::kwargs& kwargs) {
             return Breakage{name, params_from(kwargs)};
           }),
           py::arg("breakage"), py::pos_only())
      .def_readonly("name", &Breakage::name)
      .def_readonly("params", &Breakage::params)
      .def("validate", [](const Breakage& b) { world::validate_breakage(b); })
      .def(py::self == py::self)
      .def("__str__", &breakage_text)
      .def("__repr__", [](const Breakage& b) { return "<Breakage " + breakage_text(b) + ">"; });

  py::class_<world::BreakageParam>(m, "BreakageParam")
      .def_readonly("name", &world::BreakageParam::name)
      .def_readonly("description", &world::BreakageParam::description)
      .def_readonly("default", &world::BreakageParam::default_value)
      .def_property_readonly("required",
                             [](const world::BreakageParam& p) {
                               return p.default_value.empty() && !p.optional;
                             })
      .def("__repr__", [](const world::BreakageParam& p) {
        return fmt::format("<BreakageParam {}{}>", p.name,
                           p.default_value.empty() ? "" : "=" + p.default_value);
      });

  py::class_<world::BreakageInfo>(m, "BreakageInfo", "The catalogue entry of one breakage.")
      .def_readonly("name", &world::BreakageInfo::name)
      .def_property_readonly("stage",
                             [](const world::BreakageInfo& i) {
                               return as_enum("BreakageStage",
                                              i.stage == world::BreakageStage::world
                                                  ? "world"
                                                  : "publish");
                             })
      .def_readonly("models", &world::BreakageInfo::models)
      .def_readonly("params", &world::BreakageInfo::params)
      .def("__repr__", [](const world::BreakageInfo& i) {
        std::string ps;
        for (const auto& p : i.params) ps += (ps.empty() ? "" : ", ") + p.name;
        return fmt::format("<BreakageInfo {}({})>", i.name, ps);
      });

  m.def("breakage_catalog", &world::breakage_catalog, py::return_value_policy::copy,
        "Every breakage mailsim knows, sorted by name.");
  m.def("find_breakage", &world::find_breakage, py::arg("name"),
        py::return_value_policy::copy);

  py::class_<run::Expectation>(m, "Expectation", "What a scenario expects for one persona.")
      .def_property_readonly("disposition",
                             [](const run::Expectation& e) {
                               return disposition_or_none(e.disposition);
                             })
      .def_property_readonly("score",
                             [](const run::Expectation& e) -> py::object {
                               if (!e.score) return py::none();
                               return py::str(e.score->to_string());
                             })
      .def_readonly("enhanced_code", &run::Expectation::enhanced_code)
      .def(
          "matches_score",
          [](const run::Expectation& e, double score) {
            return !e.score || e.score->matches(score);
          },
          py::arg("score"))
      .def(py::self == py::self)
      .def("__str__", &run::Expectation::to_string)
      .def("__repr__",
           [](const run::Expectation& e) { return "<Expectation " + e.to_string() + ">"; });

  py::class_<run::DirectionExpectations>(m, "DirectionExpectations")
      .def_readonly("all", &run::DirectionExpectations::all)
      .def_readonly("personas", &run::DirectionExpectations::personas)
      .def("for_persona", &run::DirectionExpectations::for_persona, py::arg("persona"))
      .def_property_readonly("empty", &run::DirectionExpectations::empty)
      .def("__repr__", &direction_repr);

  py::class_<run::Expectations>(m, "Expectations")
      .def_readonly("outbound", &run::Expectations::outbound)
      .def_readonly("inbound", &run::Expectations::inbound)
      .def("__repr__", [](const run::Expectations& e) {
        return fmt::format("<Expectations outbound={} inbound={}>", direction_repr(e.outbound),
                           direction_repr(e.inbound));
      });

  py::class_<run::MessageShape>(m, "MessageShape", "The message a probe sends.")
      .def_readwrite("size", &run::MessageShape::size)
      .def_readwrite("html_only", &run::MessageShape::html_only)
      .def_readwrite("missing_headers", &run::MessageShape::missing_headers)
      .def_readwrite("bulk", &run::MessageShape::bulk)
      .def_readwrite("body", &run::MessageShape::body)
      .def("__repr__", [](const run::MessageShape& s) {
        return fmt::format("<MessageShape size={} html_only={} missing_headers={} bulk={}>",
                           s.size, s.html_only ? "True" : "False", s.missing_headers.size(),
                           s.bulk ? "True" : "False");
      });

  py::class_<run::Probes>(m, "Probes", "Which personas get a probe, in each direction.")
      .def_readwrite("outbound", &run::Probes::outbound)
      .def_readwrite("inbound", &run::Probes::inbound)
      .def_property(
          "message", [](run::Probes& p) -> run::MessageShape& { return p.message; },
          [](run::Probes& p, const run::MessageShape& s) { p.message = s; },
          py::return_value_policy::reference_internal)
      .def("__repr__", [](const run::Probes& p) {
        auto list = [](const std::vector<std::string>& v) {
          std::string s;
          for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
          return "[" + s + "]";
        };
        return fmt::format("<Probes outbound={} inbound={}>", list(p.outbound), list(p.inbound));
      });

  py::class_<world::BaselineOptions>(m, "BaselineOptions")
      .def_readwrite("domain", &world::BaselineOptions::domain)
      .def_readwrite("mx_label", &world::BaselineOptions::mx_label)
      .def_readwrite("server_ipv4", &world::BaselineOptions::server_ipv4)
      .def_readwrite("server_ipv6", &world::BaselineOptions::server_ipv6)
      .def_readwrite("root_a", &world::BaselineOptions::root_a)
      .def("__repr__", [](const world::BaselineOptions& b) {
        return fmt::format("<BaselineOptions {} mx={} {}{}{}>", b.domain, b.mx_label,
                           b.server_ipv4, b.server_ipv6.empty() ? "" : " ", b.server_ipv6);
      });

  py::class_<Scenario>(m, "Scenario",
                       "A world, its breakages, the probes to send and what to expect.")
      .def(py::init(&new_scenario), py::arg("name"),
           py::arg("extends") = run::kGuideBaselineName, py::arg("teaches") = "")
      .def_static(
          "load",
          [](const std::filesystem::path& file) {
            // `extends:` names resolve beside the file first, as for the CLI.
            return run::load_scenario_file(file);
          },
          py::arg("path"))
      .def_static(
          "from_yaml",
          [](const std::string& yaml, const std::string& source) {
            return run::load_scenario_text(yaml, source, &cached_catalog(false));
          },
          py::arg("yaml"), py::arg("source") = "<string>")
      .def("to_yaml", [](const Scenario& s) { return run::save_yaml(s); })
      .def(
          "save", [](const Scenario& s, const std::filesystem::path& file) { run::save_yaml(s, file); },
          py::arg("path"))
      .def_readwrite("name", &Scenario::name)
      .def_readwrite("teaches", &Scenario::teaches)
      .def_readonly("extends", &Scenario::extends)
      .def_readwrite("seed", &Scenario::seed)
      .def_property(
          "baseline", [](Scenario& s) -> world::BaselineOptions& { return s.baseline; },
          [](Scenario& s, const world::BaselineOptions& b) {
            s.baseline = b;
            run::rebuild_world(s);
          },
          py::return_value_policy::reference_internal)
      .def_property(
          "world", [](Scenario& s) -> world::World& { return s.world; },
          [](Scenario& s, const world::World& w) { s.world = w; },
          py::return_value_policy::reference_internal,
          "The world after every world-stage breakage (live: edits change the scenario).")
      .def_property_readonly("breakages", [](const Scenario& s) { return s.breakages; })
      .def_property_readonly("own_breakages", &Scenario::own_breakages)
      .def_readonly("inherited_breakages", &Scenario::inherited_breakages)
      // Positional-only, so that a breakage parameter called `name` (proxy.on, record.add)
      // lands in **kwargs.
      .def("break_", &add_breakage, py::arg("breakage"), py::pos_only(),
           py::return_value_policy::reference,
           "Adds a breakage by its catalogue name, e.g. s.break_(\"dkim.truncate\", at=255).")
      .def("unbreak", &remove_breakage, py::arg("name"),
           "Removes this scenario's own breakages of that name; returns how many went.")
      .def("rebuild_world", [](Scenario& s) { run::rebuild_world(s); })
      .def_property(
          "probes", [](Scenario& s) -> run::Probes& { return s.probes; },
          [](Scenario& s, const run::Probes& p) { s.probes = p; },
          py::return_value_policy::reference_internal)
      .def_property_readonly(
          "expectations", [](Scenario& s) -> run::Expectations& { return s.expect; },
          py::return_value_policy::reference_internal)
      .def(
          "expect",
          [](Scenario& s, const std::string& direction, const std::string& persona,
             const py::object& value) -> Scenario& {
            set_expectation(s, direction, persona, value);
            return s;
          },
          py::arg("direction"), py::arg("persona"), py::arg("value"),
          py::return_value_policy::reference,
          "s.expect(\"outbound\", \"gmail\", \"rejected 5.7.25\"); None removes it.")
      .def("clear_expectations", [](Scenario& s) { s.expect = {}; })
      .def_readonly("source_file", &Scenario::source_file)
      .def("copy", [](const Scenario& s) { return Scenario(s); })
      .def("__copy__", [](const Scenario& s) { return Scenario(s); })
      .def("__deepcopy__", [](const Scenario& s, py::dict) { return Scenario(s); })
      .def("__repr__", [](const Scenario& s) {
        std::string br;
        for (const auto& b : s.own_breakages()) br += (br.empty() ? "" : ", ") + breakage_text(b);
        return fmt::format("<Scenario {}{}{} breakages=[{}]>", s.name,
                           s.extends.empty() ? "" : " extends ", s.extends, br);
      });

  m.def(
      "catalog",
      [](bool reload) {
        const run::Catalog& c = cached_catalog(reload);
        return std::map<std::string, Scenario>(c.begin(), c.end());
      },
      py::arg("reload") = false, "Every catalog scenario by name (fresh copies).");
  m.def("catalog_dir", &catalog_dir);
  m.def("all_personas", &run::all_personas);
  m.def("omittable_headers", &run::omittable_headers, py::return_value_policy::copy);
}

}  // namespace mailsim::python
