// Reads what a completed handshake came to (private to the smtp area).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

#include "mailsim/smtp/server_dialogue.hpp"

namespace mailsim::smtp::detail {

inline std::string subject_cn(X509* cert) {
  if (cert == nullptr) return {};
  char buf[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

inline TlsInfo tls_info_of(SSL* ssl) {
  TlsInfo info;
  info.used = true;
  info.protocol = SSL_get_version(ssl);
  if (const char* cipher = SSL_get_cipher_name(ssl)) info.cipher = cipher;
  X509* peer = SSL_get1_peer_certificate(ssl);
  info.peer_cert_name = subject_cn(peer);
  info.verified = peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
  X509_free(peer);
  return info;
}

}  // namespace mailsim::smtp::detail
