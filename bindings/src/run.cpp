// Python view of running scenarios: Runner (GIL released while the C++ side works, Ctrl-C
// stops a run cleanly), and the scored result — Outcome, findings, fix, expectation checks —
// built by harness/report's from_run, the same model the CLI reports print.
#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "mailsim/report/from_run.hpp"
#include "mailsim/report/json.hpp"
#include "mailsim/report/model.hpp"
#include "mailsim/report/text.hpp"
#include "mailsim/run/runner.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/score/outcome.hpp"

namespace mailsim::python {

namespace {

// One scenario's run as Python sees it: the scored report (what the CLI prints) and the raw
// RunResult underneath (probes, DKIM publication, served zone, logs).
struct PyResult {
  run::RunResult raw;
  report::ScenarioReport report;
  std::uint64_t seed = 1;
  std::string sut;
  std::vector<std::string> personas;

  report::RunReport run_report() const {
    report::RunReport r;
    r.seed = seed;
    r.sut = sut;
    r.personas = personas;
    r.scenarios.push_back(report);
    r.cancelled = raw.cancelled;
    return r;
  }
};

PyResult make_result(const run::Runner& runner, const run::Scenario& scenario,
                     run::RunResult raw) {
  PyResult r;
  r.report = report::build_scenario_report(scenario, raw, runner.options().personas);
  r.seed = raw.seed;
  r.sut = runner.options().sut;
  r.personas = runner.options().personas;
  r.raw = std::move(raw);
  return r;
}

// Runs `work` on a C++ thread with the GIL released. Meanwhile this (Python) thread wakes
// every 50 ms and lets Python run its signal handlers: on Ctrl-C (KeyboardInterrupt, or any
// exception a handler raises) it asks the runner to stop, waits for the run to tear its
// world down, and re-raises — so nothing keeps serving on loopback after the interrupt.
template <class Work>
auto interruptible(run::Runner& runner, Work work) -> decltype(work()) {
  using Value = decltype(work());
  std::optional<Value> value;
  std::exception_ptr error;
  std::atomic<bool> done{false};
  PyObject* exc_type = nullptr;
  PyObject* exc_value = nullptr;
  PyObject* exc_tb = nullptr;
  {
    py::gil_scoped_release release;
    std::thread worker([&] {
      try {
        value.emplace(work());
      } catch (...) {
        error = std::current_exception();
      }
      done.store(true);
    });
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (exc_type) continue;  // already stopping
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        runner.request_stop();
      }
    }
    worker.join();
  }
  if (exc_type) {
    PyErr_Restore(exc_type, exc_value, exc_tb);
    throw py::error_already_set();
  }
  if (error) std::rethrow_exception(error);
  return std::move(*value);
}

run::RunOptions make_options(std::uint64_t seed, std::vector<std::string> personas,
                             unsigned jobs, unsigned run_index, std::string sut,
                             std::uint32_t io_timeout_ms, const std::string& shard) {
  run::RunOptions o;
  o.seed = seed;
  o.personas = std::move(personas);
  o.jobs = jobs;
  o.run_index = run_index;
  o.sut = std::move(sut);
  o.io_timeout_ms = io_timeout_ms;
  if (!shard.empty()) o.shard = run::parse_shard(shard);
  return o;
}

py::object enum_of(const char* cls, std::string_view v) { return as_enum(cls, v); }

}  // namespace

void bind_run(py::module_& m) {
  py::class_<smtp::Reply>(m, "Reply", "An SMTP reply: code, enhanced status code, text.")
      .def_readonly("code", &smtp::Reply::code)
      .def_readonly("enhanced", &smtp::Reply::enhanced)
      .def_readonly("lines", &smtp::Reply::lines)
      .def_readonly("cause", &smtp::Reply::cause)
      .def_property_readonly("text",
                             [](const smtp::Reply& r) {
                               std::string s;
                               for (const auto& l : r.lines) s += (s.empty() ? "" : " ") + l;
                               return s;
                             })
      .def_property_readonly("positive", &smtp::Reply::positive)
      .def_property_readonly("transient", &smtp::Reply::transient)
      .def_property_readonly("permanent", &smtp::Reply::permanent)
      .def("wire", &smtp::Reply::wire)
      .def("__str__", &score::reply_summary)
      .def("__repr__",
           [](const smtp::Reply& r) { return "<Reply " + score::reply_summary(r) + ">"; });

  py::class_<score::Deduction>(m, "Deduction", "One mailtester-style deduction.")
      .def_readonly("rule", &score::Deduction::rule)
      .def_readonly("points", &score::Deduction::points)
      .def_readonly("description", &score::Deduction::description)
      .def_readonly("source", &score::Deduction::source)
      .def("__repr__", [](const score::Deduction& d) {
        return fmt::format("<Deduction {} -{}>", d.rule, score::format_score(d.points));
      });

  py::class_<score::Finding>(m, "Finding", "One link of a cause chain.")
      .def_property_readonly(
          "kind", [](const score::Finding& f) { return enum_of("FindingKind", to_string(f.kind)); })
      .def_readonly("check", &score::Finding::check)
      .def_readonly("result", &score::Finding::result)
      .def_readonly("text", &score::Finding::text)
      .def_readonly("reference", &score::Finding::reference)
      .def("__str__", [](const score::Finding& f) { return f.text; })
      .def("__repr__", [](const score::Finding& f) {
        return fmt::format("<Finding {}{}{}: {}>", score::to_string(f.kind),
                           f.check.empty() ? "" : " ", f.check, f.text);
      });

  py::class_<score::Fix>(m, "Fix", "The smallest change that removes the root cause.")
      .def_readonly("id", &score::Fix::id)
      .def_readonly("text", &score::Fix::text)
      .def_readonly("reference", &score::Fix::reference)
      .def("__str__", [](const score::Fix& f) { return f.text; })
      .def("__repr__", [](const score::Fix& f) { return "<Fix " + f.id + ": " + f.text + ">"; });

  py::class_<score::Outcome>(m, "Outcome",
                             "What happened to one probe (direction × persona) and why.")
      .def_readonly("scenario", &score::Outcome::scenario)
      .def_property_readonly("direction",
                             [](const score::Outcome& o) {
                               return enum_of("Direction", score::to_string(o.direction));
                             })
      .def_readonly("persona", &score::Outcome::persona)
      .def_property_readonly("disposition",
                             [](const score::Outcome& o) {
                               return enum_of("Disposition", score::to_string(o.disposition));
                             })
      .def_readonly("reply", &score::Outcome::reply)
      .def_property_readonly("score",
                             [](const score::Outcome& o) -> std::optional<double> {
                               if (!o.score) return std::nullopt;
                               return o.score->value;
                             },
                             "The /10 mark (mailtester persona), else None.")
      .def_property_readonly("deductions",
                             [](const score::Outcome& o) {
                               return o.score ? o.score->deductions
                                              : std::vector<score::Deduction>{};
                             })
      .def_readonly("findings", &score::Outcome::findings)
      .def_readonly("fix", &score::Outcome::fix)
      .def_readonly("transcript", &score::Outcome::transcript)
      .def_readonly("authentication_results", &score::Outcome::authentication_results)
      .def("explain", [](const score::Outcome& o) { return report::render_outcome(o); })
      .def("to_json", [](const score::Outcome& o) { return report::to_json(o).dump(2); })
      .def("__repr__", [](const score::Outcome& o) {
        std::string s = fmt::format("<Outcome {} {}/{}: {}", o.scenario,
                                    score::to_string(o.direction), o.persona,
                                    score::to_string(o.disposition));
        if (o.score) s += " " + score::format_score(o.score->value);
        if (o.reply) s += " (" + score::reply_summary(*o.reply) + ")";
        return s + ">";
      });

  py::class_<score::ExpectationCheck>(m, "ExpectationCheck", "One expectation, judged.")
      .def_property_readonly("direction",
                             [](const score::ExpectationCheck& c) {
                               return enum_of("Direction",
                                              score::to_string(c.expectation.direction));
                             })
      .def_readonly("persona", &score::ExpectationCheck::persona)
      .def_property_readonly("expected",
                             [](const score::ExpectationCheck& c) { return c.expectation.expected; })
      .def_readonly("met", &score::ExpectationCheck::met)
      .def_readonly("actual", &score::ExpectationCheck::actual)
      .def_readonly("why", &score::ExpectationCheck::why)
      .def("__bool__", [](const score::ExpectationCheck& c) { return c.met; })
      .def("__repr__", [](const score::ExpectationCheck& c) {
        return fmt::format("<ExpectationCheck {} {}: expected {}, got {}>",
                           c.met ? "met" : "UNMET", c.persona, c.expectation.expected, c.actual);
      });

  py::class_<sut::DkimPublication>(m, "DkimPublication", "The DKIM key the SUT published.")
      .def_readonly("domain", &sut::DkimPublication::domain)
      .def_readonly("selector", &sut::DkimPublication::selector)
      .def_readonly("record_name", &sut::DkimPublication::record_name)
      .def_readonly("txt", &sut::DkimPublication::txt)
      .def_readonly("algorithm", &sut::DkimPublication::algorithm)
      .def_readonly("bits", &sut::DkimPublication::bits)
      .def("__repr__", [](const sut::DkimPublication& d) {
        return fmt::format("<DkimPublication {} {} {} bits>", d.record_name, d.algorithm, d.bits);
      });

  py::class_<PyResult>(m, "Result", "One scenario's run: scored outcomes and judged expectations.")
      .def_property_readonly("scenario", [](const PyResult& r) { return r.report.name; })
      .def_property_readonly("outcomes", [](const PyResult& r) { return r.report.outcomes; })
      .def(
          "outcome",
          [](const PyResult& r, const std::string& persona,
             const std::string& direction) -> std::optional<score::Outcome> {
            for (const auto& o : r.report.outcomes)
              if (o.persona == persona && score::to_string(o.direction) == direction) return o;
            return std::nullopt;
          },
          py::arg("persona"), py::arg("direction") = "outbound",
          "The outcome for that persona and direction, or None when it was not probed.")
      .def_property_readonly("expectations",
                             [](const PyResult& r) { return r.report.expectations; })
      .def_property_readonly("unmet", [](const PyResult& r) { return r.report.unmet(); })
      .def_property_readonly("passed", [](const PyResult& r) { return r.report.passed(); })
      .def_property_readonly("ok", [](const PyResult& r) { return r.raw.ok(); })
      .def_property_readonly("error", [](const PyResult& r) { return r.report.error; })
      .def_property_readonly("cancelled", [](const PyResult& r) { return r.raw.cancelled; })
      .def_property_readonly("elapsed_ms", [](const PyResult& r) { return r.raw.elapsed_ms; })
      .def_property_readonly("seed", [](const PyResult& r) { return r.raw.seed; })
      .def_property_readonly("block", [](const PyResult& r) { return r.raw.block; })
      .def_property_readonly("dkim", [](const PyResult& r) { return r.raw.dkim; })
      .def_property_readonly("zone_text", [](const PyResult& r) { return r.raw.zone_text; })
      .def_property_readonly("logs", [](const PyResult& r) { return r.report.logs; })
      .def("explain", [](const PyResult& r) { return report::render_explain(r.report); })
      .def("table", [](const PyResult& r) { return report::render_table(r.run_report()); })
      .def("to_json", [](const PyResult& r) { return report::render_json(r.run_report()); })
      .def("__bool__", [](const PyResult& r) { return r.report.passed(); })
      .def("__repr__", [](const PyResult& r) {
        std::string s = "<Result " + r.report.name + ": ";
        if (r.raw.cancelled) return s + "cancelled>";
        if (!r.report.error.empty()) return s + "error: " + r.report.error + ">";
        std::string cells;
        for (const auto& o : r.report.outcomes)
          cells += fmt::format("{}{}/{}={}", cells.empty() ? "" : " ",
                               o.direction == score::Direction::outbound ? "out" : "in",
                               o.persona, score::to_string(o.disposition));
        return s + (r.report.passed() ? "passed" : fmt::format("{} unmet", r.report.unmet())) +
               " [" + cells + "]>";
      });

  py::class_<run::Runner>(m, "Runner", "Runs scenarios end to end on the loopback fabric.")
      .def(py::init([](std::uint64_t seed, std::vector<std::string> personas, unsigned jobs,
                       unsigned run_index, std::string sut, std::uint32_t io_timeout_ms,
                       const std::string& shard) {
             return std::make_unique<run::Runner>(make_options(
                 seed, std::move(personas), jobs, run_index, std::move(sut), io_timeout_ms,
                 shard));
           }),
           py::kw_only(), py::arg("seed") = 1, py::arg("personas") = std::vector<std::string>{},
           py::arg("jobs") = 0, py::arg("run_index") = 0, py::arg("sut") = "builtin",
           py::arg("io_timeout_ms") = 5000, py::arg("shard") = "")
      .def(
          "run",
          [](run::Runner& runner, const run::Scenario& scenario) {
            run::Scenario copy = scenario;  // Python may edit the original meanwhile
            run::RunResult raw = interruptible(runner, [&] { return runner.run(copy); });
            return make_result(runner, copy, std::move(raw));
          },
          py::arg("scenario"), "Runs one scenario; Ctrl-C stops it and raises KeyboardInterrupt.")
      .def(
          "run_all",
          [](run::Runner& runner, const std::vector<run::Scenario>& scenarios) {
            std::vector<run::Scenario> copies = scenarios;
            auto raws = interruptible(runner, [&] { return runner.run_all(copies); });
            std::vector<PyResult> out;
            for (auto& raw : raws) {
              for (const auto& s : copies) {
                if (s.name != raw.scenario) continue;
                out.push_back(make_result(runner, s, std::move(raw)));
                break;
              }
            }
            return out;
          },
          py::arg("scenarios"), "Runs the shard's share in parallel; results sorted by name.")
      .def("request_stop", &run::Runner::request_stop)
      .def_property_readonly("stop_requested", &run::Runner::stop_requested)
      .def_property_readonly("seed", [](const run::Runner& r) { return r.options().seed; })
      .def_property_readonly("personas",
                             [](const run::Runner& r) { return r.options().personas; })
      .def_property_readonly("sut", [](const run::Runner& r) { return r.options().sut; })
      .def("__repr__", [](const run::Runner& r) {
        return fmt::format("<Runner sut={} seed={} jobs={}>", r.options().sut, r.options().seed,
                           r.options().jobs);
      });

  m.def(
      "table",
      [](const std::vector<PyResult>& results) {
        report::RunReport rr;
        for (const auto& r : results) {
          rr.seed = r.seed;
          rr.sut = r.sut;
          rr.personas = r.personas;
          rr.scenarios.push_back(r.report);
        }
        return report::render_table(rr);
      },
      py::arg("results"), "The CLI's text table for several results.");
}

}  // namespace mailsim::python
