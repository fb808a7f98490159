# Every dependency comes from Debian packages (scripts/bootstrap installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG QUIET)
find_package(GTest REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LDNS REQUIRED IMPORTED_TARGET ldns)
pkg_check_modules(OPENDKIM REQUIRED IMPORTED_TARGET opendkim)
# libspf2 and libopendmarc ship no .pc file on Debian 12.
find_path(SPF2_INCLUDE_DIR spf2/spf.h REQUIRED)
find_library(SPF2_LIBRARY spf2 REQUIRED)
add_library(mailsim::spf2 INTERFACE IMPORTED)
target_include_directories(mailsim::spf2 INTERFACE ${SPF2_INCLUDE_DIR})
# libspf2's headers need the netinet/arpa types included first and HAVE_* macros.
target_compile_definitions(mailsim::spf2 INTERFACE HAVE_NS_TYPE=1 HAVE_INTTYPES_H=1 HAVE_NETINET_IN_H=1 HAVE_ARPA_INET_H=1 HAVE_NETDB_H=1)
target_link_libraries(mailsim::spf2 INTERFACE ${SPF2_LIBRARY})
find_path(MD4C_INCLUDE_DIR md4c.h)
find_library(MD4C_LIBRARY md4c)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()
# Debian's Boost 1.74 is header-only for Asio/Beast; asio needs pthreads.
add_library(mailsim::asio INTERFACE IMPORTED)
target_link_libraries(mailsim::asio INTERFACE Boost::headers Threads::Threads OpenSSL::SSL OpenSSL::Crypto)
target_compile_definitions(mailsim::asio INTERFACE BOOST_ASIO_NO_DEPRECATED)
find_path(OPENDMARC_INCLUDE_DIR opendmarc/dmarc.h)
find_library(OPENDMARC_LIBRARY opendmarc)

# jemalloc for the executables that serve mail (the mailsim binary, bench/smtp, which stands
# for `mailsim receive`): a message through a ReceivingMta makes ~550 small allocations
# across the SMTP dialogue, the checks, libopendkim and OpenSSL, and glibc's malloc spent
# ~19% of the server threads' user time on them (bench/smtp profile); jemalloc's thread
# caches take ~7% off the CPU per message. Never under sanitizers or libFuzzer (they bring
# their own allocator), and never in the Python module (an extension cannot swap the
# interpreter's malloc). Without the package, glibc's malloc is used and configure says so.
pkg_check_modules(JEMALLOC QUIET IMPORTED_TARGET jemalloc)
function(mailsim_fast_malloc target)
  if(CMAKE_CXX_FLAGS MATCHES "-fsanitize" OR MAILSIM_FUZZ)
    return()
  endif()
  if(TARGET PkgConfig::JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  else()
    message(STATUS "${target}: jemalloc not found (apt-get install libjemalloc-dev), glibc malloc")
  endif()
endfunction()
