// Python view of mailsim::world: Record, Host, DnsFault, World and the guide baseline.
// The Python objects are the C++ objects (pybind11 holders), not a second model.
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "mailsim/world/baseline.hpp"
#include "mailsim/world/record.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::python {

namespace {

using world::DnsFault;
using world::DnsFaultKind;
using world::Host;
using world::HostRole;
using world::Record;
using world::RrType;
using world::World;

std::string type_names() {
  std::string names;
  for (RrType t : world::all_rr_types()) {
    if (!names.empty()) names += ", ";
    names += std::string(world::to_string(t));
  }
  return names;
}

RrType parse_type(const std::string& text) {
  if (auto t = world::rr_type_from_string(text)) return *t;
  throw py::value_error(fmt::format("unknown record type '{}'; valid: {}", text, type_names()));
}

std::optional<RrType> parse_optional_type(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return parse_type(*text);
}

HostRole parse_role(const std::string& text) {
  for (HostRole r : {HostRole::sut, HostRole::receiver, HostRole::sender, HostRole::proxy,
                     HostRole::dns, HostRole::web})
    if (world::to_string(r) == text) return r;
  throw py::value_error(fmt::format(
      "unknown host role '{}'; valid: sut, receiver, sender, proxy, dns, web", text));
}

DnsFaultKind parse_fault(const std::string& text) {
  if (auto k = world::dns_fault_from_string(text)) return *k;
  throw py::value_error(
      fmt::format("unknown DNS fault '{}'; valid: servfail, timeout, truncate, refused", text));
}

// Record(name, type, value) with the same rules as the C++ constructors: a TXT value over
// 255 octets is split into 255-octet strings as a correct DNS panel does (RFC 1035 §3.3.14).
Record make_record(const std::string& name, const std::string& type, const std::string& value,
                   std::uint32_t ttl, std::uint16_t preference,
                   std::optional<std::vector<std::string>> strings) {
  RrType t = parse_type(type);
  if (t == RrType::TXT || t == RrType::SPF) {
    Record r = strings ? world::make_txt_strings(name, *strings, ttl)
                       : world::make_txt(name, value, ttl);
    r.type = t;
    return r;
  }
  if (strings) throw py::value_error("strings= is only for TXT and SPF records");
  Record r;
  r.name = world::canonical_name(name);
  r.type = t;
  r.ttl = ttl;
  r.preference = preference;
  switch (t) {
    case RrType::MX:
    case RrType::CNAME:
    case RrType::NS:
    case RrType::PTR:
      r.value = world::canonical_name(value);
      break;
    default:
      r.value = value;
  }
  return r;
}

std::string record_repr(const Record& r) { return "<Record " + r.to_zone_line() + ">"; }

}  // namespace

void bind_world(py::module_& m) {
  py::class_<Record>(m, "Record", "A DNS resource record as the world publishes it.")
      .def(py::init(&make_record), py::arg("name"), py::arg("type") = "A",
           py::arg("value") = "", py::arg("ttl") = 3600, py::arg("preference") = 0,
           py::arg("strings") = py::none())
      .def_readwrite("name", &Record::name)
      .def_property(
          "type", [](const Record& r) { return as_enum("RrType", world::to_string(r.type)); },
          [](Record& r, const std::string& t) { r.type = parse_type(t); })
      .def_readwrite("ttl", &Record::ttl)
      .def_readwrite("value", &Record::value)
      .def_readwrite("preference", &Record::preference)
      .def_readwrite("strings", &Record::strings)
      .def_property_readonly("text", &Record::text,
                             "TXT strings joined with no separator; the value otherwise")
      .def_property_readonly("rdata", &Record::rdata_presentation)
      .def("to_zone_line", &Record::to_zone_line)
      .def("__str__", &Record::to_zone_line)
      .def("__repr__", &record_repr)
      .def(py::self == py::self)
      .def(py::pickle([](const Record& r) {
             return py::make_tuple(r.name, std::string(world::to_string(r.type)), r.ttl,
                                   r.value, r.preference, r.strings);
           },
           [](const py::tuple& t) {
             Record r;
             r.name = t[0].cast<std::string>();
             r.type = parse_type(t[1].cast<std::string>());
             r.ttl = t[2].cast<std::uint32_t>();
             r.value = t[3].cast<std::string>();
             r.preference = t[4].cast<std::uint16_t>();
             r.strings = t[5].cast<std::vector<std::string>>();
             return r;
           }));

  py::class_<DnsFault>(m, "DnsFault", "How the fake DNS misbehaves for one name (and type).")
      .def(py::init([](const std::string& name, const std::string& kind,
                       const std::optional<std::string>& type) {
             return DnsFault{world::canonical_name(name), parse_optional_type(type),
                             parse_fault(kind)};
           }),
           py::arg("name"), py::arg("kind") = "servfail", py::arg("type") = py::none())
      .def_readonly("name", &DnsFault::name)
      .def_property_readonly("kind",
                             [](const DnsFault& f) {
                               return as_enum("DnsFaultKind", world::to_string(f.kind));
                             })
      .def_property_readonly("type",
                             [](const DnsFault& f) -> py::object {
                               if (!f.type) return py::none();
                               return as_enum("RrType", world::to_string(*f.type));
                             })
      .def(py::self == py::self)
      .def("__repr__", [](const DnsFault& f) {
        return fmt::format("<DnsFault {} {} {}>", f.name,
                           f.type ? world::to_string(*f.type) : std::string_view("*"),
                           world::to_string(f.kind));
      });

  py::class_<Host>(m, "Host", "A machine in the world, addressed by its virtual addresses.")
      .def(py::init([](const std::string& name, const std::string& role,
                       std::vector<std::string> addresses, std::set<std::uint16_t> open_ports,
                       std::string persona) {
             Host h;
             h.name = world::canonical_name(name);
             h.role = parse_role(role);
             h.addresses = std::move(addresses);
             h.open_ports = std::move(open_ports);
             h.persona = std::move(persona);
             return h;
           }),
           py::arg("name"), py::arg("role") = "web",
           py::arg("addresses") = std::vector<std::string>{},
           py::arg("open_ports") = std::set<std::uint16_t>{}, py::arg("persona") = "")
      .def_readwrite("name", &Host::name)
      .def_property(
          "role", [](const Host& h) { return as_enum("HostRole", world::to_string(h.role)); },
          [](Host& h, const std::string& r) { h.role = parse_role(r); })
      .def_readwrite("addresses", &Host::addresses)
      .def_readwrite("open_ports", &Host::open_ports)
      .def_readwrite("persona", &Host::persona)
      .def_readwrite("blocked_egress_ports", &Host::blocked_egress_ports)
      .def_readwrite("starttls", &Host::starttls)
      .def(py::self == py::self)
      .def("__repr__", [](const Host& h) {
        std::string addrs;
        for (const auto& a : h.addresses) addrs += (addrs.empty() ? "" : ", ") + a;
        return fmt::format("<Host {} ({}{}{}) [{}]>", h.name, world::to_string(h.role),
                           h.persona.empty() ? "" : " ", h.persona, addrs);
      });

  py::class_<World>(m, "World",
                    "The sealed world: every zone, record, host and DNS fault a run can see.")
      .def(py::init<>())
      .def_static(
          "guide_baseline",
          [](const std::string& domain, const std::string& mx_label,
             const std::string& server_ipv4, const std::string& server_ipv6, bool root_a) {
            return world::guide_baseline({domain, mx_label, server_ipv4, server_ipv6, root_a});
          },
          py::arg("domain") = world::kGuideDomain, py::arg("mx_label") = "mx",
          py::arg("server_ipv4") = world::kGuideServerIp, py::arg("server_ipv6") = "",
          py::arg("root_a") = true,
          "The DNS a reader of the poste.io guide ends up with, plus the providers' domains.")
      .def("add_zone", &World::add_zone, py::arg("apex"))
      .def_property_readonly("zones",
                             [](const World& w) {
                               return std::vector<std::string>(w.zones().begin(),
                                                               w.zones().end());
                             })
      .def("zone_for", &World::zone_for, py::arg("name"))
      .def("add", &World::add, py::arg("record"))
      .def(
          "remove",
          [](World& w, const std::string& name, const std::optional<std::string>& type) {
            return w.remove(world::canonical_name(name), parse_optional_type(type));
          },
          py::arg("name"), py::arg("type") = py::none(),
          "Removes every record at name (of that type, if given); returns how many went.")
      .def("replace", &World::replace, py::arg("record"))
      .def(
          "find",
          [](const World& w, const std::string& name, const std::optional<std::string>& type) {
            return w.find(world::canonical_name(name), parse_optional_type(type));
          },
          py::arg("name"), py::arg("type") = py::none())
      .def(
          "find_txt",
          [](const World& w, const std::string& name, const std::string& prefix) {
            return w.find_txt(world::canonical_name(name), prefix);
          },
          py::arg("name"), py::arg("prefix") = "")
      .def("name_exists",
           [](const World& w, const std::string& name) {
             return w.name_exists(world::canonical_name(name));
           },
           py::arg("name"))
      .def_property_readonly("records", &World::records)
      .def(
          "add_fault",
          [](World& w, const std::string& name, const std::string& kind,
             const std::optional<std::string>& type) {
            w.add_fault(DnsFault{world::canonical_name(name), parse_optional_type(type),
                                 parse_fault(kind)});
          },
          py::arg("name"), py::arg("kind") = "servfail", py::arg("type") = py::none())
      .def("clear_faults",
           [](World& w, const std::string& name) {
             w.clear_faults(world::canonical_name(name));
           },
           py::arg("name"))
      .def_property_readonly("faults", &World::faults)
      .def(
          "fault_for",
          [](const World& w, const std::string& name, const std::string& type) -> py::object {
            auto k = w.fault_for(world::canonical_name(name), parse_type(type));
            if (!k) return py::none();
            return as_enum("DnsFaultKind", world::to_string(*k));
          },
          py::arg("name"), py::arg("type"))
      .def("add_host", &World::add_host, py::arg("host"))
      .def(
          "host",
          [](World& w, const std::string& name) { return w.host(world::canonical_name(name)); },
          py::arg("name"), py::return_value_policy::reference_internal,
          "The host of that name (live: edits change the world), or None.")
      .def("host_by_address", &World::host_by_address, py::arg("address"),
           py::return_value_policy::reference_internal)
      .def_property_readonly(
          "hosts", [](World& w) -> std::vector<Host>& { return w.hosts(); },
          py::return_value_policy::copy)
      .def("to_zone_text", &World::to_zone_text)
      .def_property_readonly("zone_text", &World::to_zone_text)
      .def("copy", [](const World& w) { return World(w); })
      .def("__copy__", [](const World& w) { return World(w); })
      .def("__deepcopy__", [](const World& w, py::dict) { return World(w); })
      .def("__len__", [](const World& w) { return w.records().size(); })
      .def(py::self == py::self)
      .def("__repr__", [](const World& w) {
        return fmt::format("<World {} zones, {} records, {} hosts, {} faults>", w.zones().size(),
                           w.records().size(), w.hosts().size(), w.faults().size());
      });

  m.def("reverse_name", &world::reverse_name, py::arg("address"),
        "'12.34.56.78' → '78.56.34.12.in-addr.arpa' (RFC 1035 §3.5, RFC 3596 §2.5).");
  m.def("split_txt", &world::split_txt, py::arg("value"), py::arg("chunk") = 255);
  m.def("canonical_name", &world::canonical_name, py::arg("name"));
  m.def("persona_domains", [] {
    py::list out;
    for (const auto& p : world::persona_domains())
      out.append(py::make_tuple(p.persona, p.domain, p.mx_host));
    return out;
  }, "(persona, domain, mx_host) in report order.");
  m.attr("GUIDE_DOMAIN") = world::kGuideDomain;
  m.attr("GUIDE_MX_HOST") = world::kGuideMxHost;
  m.attr("GUIDE_SERVER_IP") = world::kGuideServerIp;
}

}  // namespace mailsim::python
