// Shared helpers of the `mailsim._core` pybind11 module (bindings/src/*.cpp).
#pragma once

#include <string>
#include <string_view>

#include <pybind11/pybind11.h>

namespace mailsim::python {

namespace py = pybind11;

// Enums cross into Python as members of the str-valued enums in mailsim/enums.py, so that
// `outcome.disposition == "inbox"` holds and editors still see a closed set of values.
inline py::object as_enum(const char* enum_class, std::string_view value) {
  return py::module_::import("mailsim.enums").attr(enum_class)(std::string(value));
}

// The text of a Python value as a breakage parameter would be written in YAML:
// True → "true", 255 → "255", "mx" → "mx".
std::string param_text(const py::handle& value);

void bind_world(py::module_& m);
void bind_scenario(py::module_& m);
void bind_run(py::module_& m);

}  // namespace mailsim::python
