// Internal: ownership wrappers for ldns objects and Record ↔ ldns_rr conversion, shared by
// the zone loader, the server and the wire client.
#pragma once

// stdbool.h first: it defines __bool_true_false_are_defined, without which
// ldns/common.h does `#define bool _Bool` and `true`/`false`, breaking C++ headers.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)

#include <ldns/ldns.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mailsim/world/record.hpp"

namespace mailsim::dns::detail {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RrFree {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
struct BufferFree {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
struct CFree {
  void operator()(void* p) const { free(p); }  // NOLINT: ldns allocates with malloc
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using BufferPtr = std::unique_ptr<ldns_buffer, BufferFree>;
using CStr = std::unique_ptr<char, CFree>;

// ldns_rdf2str as a std::string ("" if ldns fails).
std::string rdf_to_string(const ldns_rdf* rdf);

// World names are raw label bytes joined by '.', with only the two RFC 1035 §5.1 escapes
// a label needs to stay unambiguous: "\." is a dot inside a label and "\\" a backslash;
// spaces, other specials and non-ASCII bytes stay raw (an SPF macro can expand to
// "macro%percent  space.example.com", RFC 7208 §7.3). These two convert between that form
// and wire-form dname rdfs label by label, never through ldns presentation text, so no
// byte is lost or re-escaped on the way (ldns_rdf2str writes a space as "\032").
//
// nullptr + `error` when a label is empty or over 63 octets, or the name over 255 octets
// on the wire (RFC 1035 §3.1). A backslash not followed by '.' or '\' is taken literally.
RdfPtr dname_from_name(std::string_view name, std::string* error);
// The world name of a wire dname ("" for the root), escaping '.' and '\' inside labels.
std::string name_from_dname(const ldns_rdf* rdf);

// One RR as the world models it. nullopt + `error` for a type the world does not carry
// or rdata it cannot represent.
std::optional<world::Record> record_from_rr(const ldns_rr* rr, std::string* error);

// A world Record as an ldns RR, nullptr + `error` when it cannot be put on the wire (a
// label over 63 octets, a TXT string over 255 octets, unparsable rdata…).
RrPtr rr_from_record(const world::Record& record, std::string* error);

}  // namespace mailsim::dns::detail
