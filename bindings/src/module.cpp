// mailsim._core: the C++ objects themselves, for the `mailsim` Python package
// (bindings/python/mailsim). See docs/python.md.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "mailsim/run/scenario.hpp"
#include "mailsim/world/breakage.hpp"

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "mailsim's C++ core (World, Scenario, Runner, Outcome); use the mailsim package.";

  // One Python exception for every scenario problem, with the message the CLI prints
  // (FILE:LINE:COL for files; the valid choices for breakages). A ValueError, since it is
  // always a bad value the user wrote.
  static py::exception<mailsim::run::ScenarioError> scenario_error(m, "ScenarioError",
                                                                   PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const mailsim::run::ScenarioError& e) {
      scenario_error(e.what());
    } catch (const mailsim::world::BreakageError& e) {
      scenario_error(e.what());
    }
  });

  mailsim::python::bind_world(m);
  mailsim::python::bind_scenario(m);
  mailsim::python::bind_run(m);
}
