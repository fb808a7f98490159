// What a receiver knows about one SMTP transaction when it runs its checks.
// Filled by the SMTP layer; read by the checks. Pure data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsim::auth {

struct TlsFacts {
  bool used = false;          // STARTTLS completed (RFC 3207)
  std::string protocol;       // "TLSv1.3"
  std::string cipher;         // "TLS_AES_256_GCM_SHA384"
  std::string peer_cert_name; // subject CN/SAN the client presented, if any
  bool operator==(const TlsFacts&) const = default;
};

struct Connection {
  std::string client_ip;     // the virtual address the receiver sees (e.g. 12.34.56.78)
  std::string helo;          // EHLO/HELO argument
  TlsFacts tls;
};

struct Envelope {
  std::string mail_from;               // reverse-path without <>, "" for the null sender
  std::vector<std::string> rcpt_to;
  bool smtputf8 = false;
};

// A parsed RFC 5322 message. Header lines are kept as received (unfolded copies in
// `value`), in order, so DKIM can canonicalize the raw bytes.
struct Header {
  std::string name;   // as written, e.g. "DKIM-Signature"
  std::string value;  // after the colon, unfolded, leading space trimmed
  std::string raw;    // the whole field as received, CRLFs of folding included
};

struct Message {
  std::vector<Header> headers;
  std::string body;   // after the blank line, CRLF line endings
  std::string raw;    // the whole message as received (CRLF)

  // Parses CRLF or LF text (LF is converted to CRLF). Never throws: a malformed header
  // section ends the headers where it stops making sense (RFC 5322 §2.2).
  static Message parse(std::string_view text);
  // The first header with this name (case-insensitive), or nullptr.
  const Header* find(std::string_view name) const;
  std::vector<const Header*> find_all(std::string_view name) const;
  // The domain of the (first) From: address, lowercase; "" when absent or unparsable.
  std::string from_domain() const;
};

}  // namespace mailsim::auth
