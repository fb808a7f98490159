// The real poste.io container as the setup under test (`--sut posteio`, issue 9,
// ../shared/reference/posteio.md, docs/posteio.md).
//
// Network design (the `docker` fabric): one user-defined bridge network per run,
// `Internal: true` (no route out), whose IPAM pools are the World's own addresses:
//   * every world IPv4 address lies in a /29 pool; the pool holding the SUT's address
//     (12.34.56.78 → 12.34.56.72/29) gets a spare address as its gateway, and that gateway
//     is where the container's DNS goes (HostConfig.Dns): a relay there forwards each
//     query to the run's FakeDnsServer, which never recurses;
//   * every other pool takes a world host's own address as its gateway (gmail's MX
//     142.250.27.26 → pool 142.250.27.24/29, gateway 142.250.27.26). The gateway is the
//     host side of the bridge, so the container reaches "gmail" there; a relay on that
//     address forwards each connection to the persona's receiver through the run's fabric
//     (SutContext::dial), so the receiver sees the SUT's virtual address as usual.
// Every socket the adapter opens goes to the engine's unix socket, to an address of the
// bridge network it created, or to loopback (the fabric) — the NETWORK RULE.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mailsim/net/docker_api.hpp"
#include "mailsim/sut/sut.hpp"
#include "mailsim/world/world.hpp"

namespace mailsim::sut {

struct PosteioOptions {
  std::string image = "analogic/poste.io";
  std::string tag = "2.5.5";  // pinned: 1.x is qmail-based and behaves differently
  bool pull = false;          // `--pull`: fetch the image when absent (never implicitly)
  bool keep = false;          // `--keep`: leave network, container and data for inspection
  bool disable_clamav = true; // ~500 MB and minutes of signature loading we do not need
  bool disable_rspamd = false;
  bool disable_roundcube = true;
  std::int64_t memory_bytes = 0;  // HostConfig.Memory; 0 = no limit
  std::chrono::seconds ready_timeout{180};  // public scripts wait up to 180 s on first boot
  std::chrono::milliseconds poll_interval{2000};
  std::chrono::seconds queue_timeout{120};  // how long run_queue waits for Haraka's verdict
  std::string data_root;     // parent of the per-run /data folder; "" = the temp directory
  std::string run_id;        // names network/container/folder; "" = from seed and pid
  std::string password;      // mailbox password; "" = derived from the seed
  net::DockerEndpoint docker = net::docker_endpoint_from_env();
  bool relays = true;        // bind the DNS/SMTP relays on the bridge (off in API tests)
  // Sleeps between readiness polls; tests inject a no-op.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Options from the environment, for the runner's registry (make_sut("posteio")), which
// passes no options: MAILSIM_POSTEIO_TAG, MAILSIM_POSTEIO_IMAGE, MAILSIM_POSTEIO_PULL=1,
// MAILSIM_POSTEIO_KEEP=1, MAILSIM_POSTEIO_RSPAMD=0, MAILSIM_POSTEIO_ROUNDCUBE=1,
// MAILSIM_POSTEIO_READY_TIMEOUT=<seconds>, MAILSIM_POSTEIO_DATA=<dir>.
PosteioOptions posteio_options_from_env();
// The environment's options overridden by the command line's (`mailsim run --pull --keep
// --posteio-tag T`): keys "pull", "keep" ("1"/"0"), "tag", "image". Throws SutError for
// any other key, naming the valid ones.
PosteioOptions posteio_options(const SutOptions& options);

// ---------------------------------------------------------------------------------------
// The bridge network for a World (pure; tested without Docker).

struct BridgeRelay {
  std::string host;      // world host ("gmail-smtp-in.l.google.com")
  std::string address;   // the gateway address the container dials (= the host's address)
};

struct BridgePlan {
  net::NetworkSpec network;
  std::string sut_address;             // the container's fixed IPv4 (12.34.56.78)
  std::string dns_address;             // HostConfig.Dns: the SUT pool's gateway
  std::vector<BridgeRelay> relays;     // host side of the bridge, one per reachable address
  std::vector<std::string> unreachable;  // "host address: why" — shown in the SUT logs
};

// Throws SutError when the SUT host has no IPv4 address.
BridgePlan plan_bridge(const world::World& world, std::string_view sut_host,
                       std::string_view network_name);

// ---------------------------------------------------------------------------------------

// What `console domain:dkim` printed, parsed: the selector and the TXT value. Accepts the
// record form ("s2026…._domainkey.d. IN TXT "k=rsa; p=…""), quoted 255-byte chunks,
// and "selector: …" / "public key: …" lines (the exact output format is UNVERIFIED).
// Throws SutError quoting the output when no selector or p= is found.
DkimPublication parse_dkim_output(std::string_view domain, std::string_view output);

// The adapter. make_sut("posteio") builds one with posteio_options_from_env().
std::unique_ptr<Sut> make_posteio_sut(PosteioOptions options = posteio_options_from_env());

}  // namespace mailsim::sut
