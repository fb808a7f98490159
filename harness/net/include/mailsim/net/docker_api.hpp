// A small Docker Engine API client (the `docker` fabric, DESIGN.md "Virtual addresses, three
// fabrics"): HTTP/1.1 over the engine's unix socket with Boost.Beast — no docker CLI. It
// speaks only the documented subset mailsim needs (Docker Engine API v1.41, the version
// Debian 12's docker.io 20.10 serves; later engines accept it too):
//   GET  /_ping, /info, /images/{name}/json          POST /images/create
//   POST /networks/create                             DELETE /networks/{id}
//   POST /containers/create?name=…                    POST /containers/{id}/start|stop
//   DELETE /containers/{id}?force=true&v=true         GET /containers/{id}/json|logs|stats
//   POST /containers/{id}/exec, /exec/{id}/start      GET /exec/{id}/json
//
// Only unix:// endpoints are accepted (DOCKER_HOST honoured): a tcp:// engine could be any
// host on any network, and mailsim opens sockets only to things it created or to loopback.
// Every request runs on its own connection with a deadline and a body size limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mailsim::net {

// A failed engine call: which request, the HTTP status (0 = no HTTP answer at all) and the
// engine's own message ({"message": "…"}).
class DockerError : public std::runtime_error {
 public:
  DockerError(std::string what, int status) : std::runtime_error(std::move(what)), status_(status) {}
  int status() const { return status_; }

 private:
  int status_ = 0;
};

struct DockerEndpoint {
  std::string socket_path = "/var/run/docker.sock";
  std::string api_version = "v1.41";  // prefix of every target: "/v1.41/containers/…"
};

// DOCKER_HOST value → endpoint. "" → the default socket; "unix:///run/docker.sock" → that
// path; anything else (tcp://, ssh://, npipe://) throws DockerError saying only unix:// is
// supported and why.
DockerEndpoint parse_docker_host(std::string_view docker_host);
// parse_docker_host(getenv("DOCKER_HOST")).
DockerEndpoint docker_endpoint_from_env();

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// ---------------------------------------------------------------------------------------
// Request bodies. Pure functions, so the exact JSON we send is testable without an engine.

struct IpamPool {
  std::string subnet;   // "12.34.56.0/24"
  std::string gateway;  // "12.34.56.1" — the host side of the bridge
};

struct NetworkSpec {
  std::string name;             // "mailsim-<run>"
  bool internal = true;         // no route out of the bridge: the world stays sealed
  std::vector<IpamPool> pools;  // the World's subnets
  std::map<std::string, std::string> labels;  // "mailsim.run" = id, for cleanup by hand
};

struct ContainerSpec {
  std::string name;                  // "mailsim-posteio-<run>"
  std::string image;                 // "analogic/poste.io:2.5.5"
  std::string hostname;              // "mx.nodeseek.com"; also the HELO of poste.io
  std::vector<std::string> env;      // "DISABLE_CLAMAV=TRUE", …
  std::vector<std::string> binds;    // "/tmp/mailsim-…/data:/data"
  std::vector<std::string> dns;      // HostConfig.Dns: the fake DNS only
  std::string network;               // HostConfig.NetworkMode and the endpoint's key
  std::string ipv4_address;          // fixed address on `network`
  std::int64_t memory_bytes = 0;     // HostConfig.Memory; 0 = no limit
  std::map<std::string, std::string> labels;
};

// {"Name","Driver":"bridge","Internal","CheckDuplicate":true,"IPAM":{"Driver":"default",
//  "Config":[{"Subnet","Gateway"}…]},"Labels"}
nlohmann::json network_create_json(const NetworkSpec& spec);
// {"Image","Hostname","Env","Labels","HostConfig":{"Binds","Dns","NetworkMode"[,"Memory"]},
//  "NetworkingConfig":{"EndpointsConfig":{net:{"IPAMConfig":{"IPv4Address"}}}}}
nlohmann::json container_create_json(const ContainerSpec& spec);

// Demultiplexes Docker's stream framing (logs, exec output without a TTY): every frame is
// an 8-byte header {stream, 0, 0, 0, size as big-endian uint32} and `size` payload bytes;
// stream 1 = stdout, 2 = stderr (0 = stdin, appended to stdout). A truncated last frame
// keeps what arrived and sets `truncated`.
struct DemuxedOutput {
  std::string out;
  std::string err;
  bool truncated = false;
};
DemuxedOutput demux_docker_stream(std::string_view raw);

struct ExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// ---------------------------------------------------------------------------------------

class DockerClient {
 public:
  explicit DockerClient(DockerEndpoint endpoint = docker_endpoint_from_env(),
                        std::chrono::milliseconds timeout = std::chrono::seconds(30),
                        std::size_t body_limit = 64u << 20);

  // One HTTP exchange. `target` without the version prefix ("/containers/json").
  // Throws DockerError when the socket cannot be reached or the exchange times out;
  // returns any HTTP status (callers decide which are errors).
  HttpResponse request(std::string_view method, std::string_view target,
                       const std::optional<nlohmann::json>& body = std::nullopt,
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;

  // GET /_ping answered "OK". Never throws.
  bool ping() const noexcept;
  nlohmann::json info() const;
  bool image_exists(std::string_view reference) const;  // "analogic/poste.io:2.5.5"
  // POST /images/create?fromImage=…&tag=…; reads the progress stream to its end and throws
  // with the engine's error line if the pull failed.
  void pull_image(std::string_view image, std::string_view tag,
                  std::chrono::milliseconds timeout = std::chrono::minutes(15)) const;

  std::string create_network(const NetworkSpec& spec) const;  // returns the Id
  void remove_network(std::string_view id) const;             // 404 is not an error

  std::string create_container(const ContainerSpec& spec) const;  // returns the Id
  void start_container(std::string_view id) const;
  void stop_container(std::string_view id, int grace_seconds = 10) const;  // 304/404 fine
  void remove_container(std::string_view id) const;  // force, with volumes; 404 is fine
  nlohmann::json inspect_container(std::string_view id) const;
  // Both streams, demultiplexed; `tail` = "all" or a line count.
  DemuxedOutput logs(std::string_view id, std::string_view tail = "all") const;
  // GET /containers/{id}/stats?stream=false (memory_stats.usage, …).
  nlohmann::json stats(std::string_view id) const;

  // exec create → start (attached, output framed) → inspect (ExitCode).
  ExecResult exec(std::string_view container, const std::vector<std::string>& cmd,
                  std::string_view user = "",
                  std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;

  const DockerEndpoint& endpoint() const { return endpoint_; }

 private:
  // Throws DockerError("<what>: HTTP <status>: <engine message>") unless status is in `ok`.
  static void expect(const HttpResponse& r, std::initializer_list<int> ok, std::string_view what);

  DockerEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::size_t body_limit_;
};

// "/containers/create?name=x" with query values percent-encoded (RFC 3986 §2.1).
std::string url_encode(std::string_view value);

}  // namespace mailsim::net
