// libFuzzer target for the DKIM parsing path: the DKIM-Signature header field (tag list,
// folding, base64) and the key record (tags, p= decoding, PKCS#1 re-wrapping), through
// verify_dkim. Input: the first line is the TXT key record served for every key name; the
// rest is the message. Built only with MAILSIM_FUZZ=ON under clang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailsim/auth/dkim.hpp"

namespace {

// Serves the fuzzer's key record at every name, split into 255-octet strings as a DNS
// panel would, so the concatenation path (RFC 6376 §3.6.2.2) is exercised too.
class OneKeyResolver : public mailsim::dns::Resolver {
 public:
  explicit OneKeyResolver(std::string txt) : txt_(std::move(txt)) {}
  mailsim::dns::Answer query(std::string_view name, mailsim::dns::RrType type) override {
    mailsim::dns::Answer a;
    if (type != mailsim::dns::RrType::TXT || txt_.empty()) {
      a.status = mailsim::dns::DnsStatus::nxdomain;
      return a;
    }
    a.status = mailsim::dns::DnsStatus::ok;
    a.records.push_back(mailsim::world::make_txt(name, txt_));
    return a;
  }

 private:
  std::string txt_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string key(in.substr(0, nl == std::string_view::npos ? in.size() : nl));
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  std::string message = "DKIM-Signature: " + std::string(rest);
  OneKeyResolver resolver(key);
  mailsim::auth::Message m = mailsim::auth::Message::parse(message);
  (void)mailsim::auth::verify_dkim(m, resolver, {.now = 1700000000});
  return 0;
}
