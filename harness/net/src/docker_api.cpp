#include "mailsim/net/docker_api.hpp"

#include <cstdlib>
#include <exception>
#include <sstream>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace mailsim::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using json = nlohmann::json;

DockerEndpoint parse_docker_host(std::string_view docker_host) {
  DockerEndpoint ep;
  if (docker_host.empty()) return ep;
  constexpr std::string_view kUnix = "unix://";
  if (!docker_host.starts_with(kUnix) || docker_host.size() == kUnix.size()) {
    throw DockerError(
        fmt::format("DOCKER_HOST='{}': only unix:///path/to/docker.sock is supported (a tcp:// "
                    "or ssh:// engine may sit on another host, and mailsim opens sockets only "
                    "to what it created)",
                    docker_host),
        0);
  }
  ep.socket_path = std::string(docker_host.substr(kUnix.size()));
  return ep;
}

DockerEndpoint docker_endpoint_from_env() {
  const char* v = std::getenv("DOCKER_HOST");
  return parse_docker_host(v ? v : "");
}

std::string url_encode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    // RFC 3986 §2.3 unreserved characters pass; everything else is %XX.
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

json network_create_json(const NetworkSpec& spec) {
  json pools = json::array();
  for (const auto& p : spec.pools) {
    json c = {{"Subnet", p.subnet}};
    if (!p.gateway.empty()) c["Gateway"] = p.gateway;
    pools.push_back(std::move(c));
  }
  return json{{"Name", spec.name},
              {"Driver", "bridge"},
              {"Internal", spec.internal},
              {"CheckDuplicate", true},
              {"IPAM", {{"Driver", "default"}, {"Config", std::move(pools)}}},
              {"Labels", spec.labels}};
}

json container_create_json(const ContainerSpec& spec) {
  json host = {{"Binds", spec.binds}, {"Dns", spec.dns}, {"NetworkMode", spec.network}};
  if (spec.memory_bytes > 0) host["Memory"] = spec.memory_bytes;
  json endpoint = json::object();
  if (!spec.ipv4_address.empty())
    endpoint["IPAMConfig"] = {{"IPv4Address", spec.ipv4_address}};
  return json{{"Image", spec.image},
              {"Hostname", spec.hostname},
              {"Env", spec.env},
              {"Labels", spec.labels},
              {"HostConfig", std::move(host)},
              {"NetworkingConfig", {{"EndpointsConfig", {{spec.network, std::move(endpoint)}}}}}};
}

DemuxedOutput demux_docker_stream(std::string_view raw) {
  DemuxedOutput out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    if (raw.size() - pos < 8) {
      out.truncated = true;
      break;
    }
    const auto* h = reinterpret_cast<const unsigned char*>(raw.data() + pos);
    const unsigned stream = h[0];
    const std::size_t size = (std::size_t{h[4]} << 24) | (std::size_t{h[5]} << 16) |
                             (std::size_t{h[6]} << 8) | std::size_t{h[7]};
    pos += 8;
    std::size_t take = std::min(size, raw.size() - pos);
    if (take < size) out.truncated = true;
    (stream == 2 ? out.err : out.out).append(raw.substr(pos, take));
    pos += take;
  }
  return out;
}

// ---------------------------------------------------------------------------------------

namespace {

using Stream = beast::basic_stream<asio::local::stream_protocol>;

asio::awaitable<void> exchange(Stream& stream, const std::string& path,
                               http::request<http::string_body>& req,
                               http::response_parser<http::string_body>& parser,
                               std::chrono::milliseconds timeout, std::string& error) {
  error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  stream.expires_after(timeout);
  co_await stream.async_connect(asio::local::stream_protocol::endpoint(path), token);
  if (ec) {
    error = fmt::format("cannot connect to the Docker engine at unix://{}: {}", path, ec.message());
    co_return;
  }
  stream.expires_after(timeout);
  co_await http::async_write(stream, req, token);
  if (ec) {
    error = fmt::format("write to the Docker engine failed: {}", ec.message());
    co_return;
  }
  beast::flat_buffer buffer;
  stream.expires_after(timeout);
  co_await http::async_read(stream, buffer, parser, token);
  if (ec == beast::error::timeout) {
    error = fmt::format("no complete answer from the Docker engine within {} ms", timeout.count());
  } else if (ec && ec != http::error::end_of_stream) {
    error = fmt::format("read from the Docker engine failed: {}", ec.message());
  }
  error_code ignored;
  stream.socket().shutdown(asio::socket_base::shutdown_both, ignored);
}

std::string engine_message(const HttpResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    return j["message"].get<std::string>();
  std::string body = r.body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body;
}

}  // namespace

DockerClient::DockerClient(DockerEndpoint endpoint, std::chrono::milliseconds timeout,
                           std::size_t body_limit)
    : endpoint_(std::move(endpoint)), timeout_(timeout), body_limit_(body_limit) {}

HttpResponse DockerClient::request(std::string_view method, std::string_view target,
                                   const std::optional<json>& body,
                                   std::optional<std::chrono::milliseconds> timeout) const {
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target("/" + endpoint_.api_version + std::string(target));
  req.version(11);
  req.set(http::field::host, "docker");  // required by HTTP/1.1; the engine ignores it
  req.set(http::field::user_agent, "mailsim");
  req.set(http::field::connection, "close");
  if (body) {
    req.set(http::field::content_type, "application/json");
    req.body() = body->dump();
  }
  req.prepare_payload();

  asio::io_context ioc;
  Stream stream(ioc);
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit_);
  std::string error;
  std::exception_ptr failure;
  asio::co_spawn(ioc, exchange(stream, endpoint_.socket_path, req, parser, timeout.value_or(timeout_), error),
                 [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  const std::string what = fmt::format("{} {}", method, target);
  if (!error.empty()) throw DockerError(fmt::format("{}: {}", what, error), 0);
  if (!parser.is_header_done()) throw DockerError(fmt::format("{}: no HTTP answer", what), 0);
  HttpResponse r;
  auto& msg = parser.get();
  r.status = static_cast<int>(msg.result_int());
  r.content_type = std::string(msg[http::field::content_type]);
  r.body = std::move(msg.body());
  return r;
}

void DockerClient::expect(const HttpResponse& r, std::initializer_list<int> ok,
                          std::string_view what) {
  for (int s : ok)
    if (r.status == s) return;
  throw DockerError(fmt::format("{}: HTTP {}: {}", what, r.status, engine_message(r)), r.status);
}

bool DockerClient::ping() const noexcept {
  try {
    auto r = request("GET", "/_ping", std::nullopt, std::chrono::milliseconds(3000));
    return r.status == 200 && r.body == "OK";
  } catch (...) {
    return false;
  }
}

json DockerClient::info() const {
  auto r = request("GET", "/info");
  expect(r, {200}, "GET /info");
  return json::parse(r.body);
}

bool DockerClient::image_exists(std::string_view reference) const {
  auto r = request("GET", fmt::format("/images/{}/json", reference));
  if (r.status == 404) return false;
  expect(r, {200}, fmt::format("inspect image {}", reference));
  return true;
}

void DockerClient::pull_image(std::string_view image, std::string_view tag,
                              std::chrono::milliseconds timeout) const {
  auto r = request("POST",
                   fmt::format("/images/create?fromImage={}&tag={}", url_encode(image), url_encode(tag)),
                   std::nullopt, timeout);
  expect(r, {200}, fmt::format("pull {}:{}", image, tag));
  // The body is a stream of JSON progress objects; a failed pull still answers 200 and puts
  // {"error": "…"} in the stream.
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("error"))
      throw DockerError(fmt::format("pull {}:{}: {}", image, tag, j["error"].dump()), r.status);
  }
}

std::string DockerClient::create_network(const NetworkSpec& spec) const {
  auto r = request("POST", "/networks/create", network_create_json(spec));
  expect(r, {201, 200}, fmt::format("create network {}", spec.name));
  return json::parse(r.body).at("Id").get<std::string>();
}

void DockerClient::remove_network(std::string_view id) const {
  auto r = request("DELETE", fmt::format("/networks/{}", id));
  expect(r, {204, 200, 404}, fmt::format("remove network {}", id));
}

std::string DockerClient::create_container(const ContainerSpec& spec) const {
  auto r = request("POST", "/containers/create?name=" + url_encode(spec.name),
                   container_create_json(spec));
  expect(r, {201}, fmt::format("create container {} from {}", spec.name, spec.image));
  return json::parse(r.body).at("Id").get<std::string>();
}

void DockerClient::start_container(std::string_view id) const {
  auto r = request("POST", fmt::format("/containers/{}/start", id));
  expect(r, {204, 304}, fmt::format("start container {}", id));
}

void DockerClient::stop_container(std::string_view id, int grace_seconds) const {
  auto r = request("POST", fmt::format("/containers/{}/stop?t={}", id, grace_seconds),
                   std::nullopt, timeout_ + std::chrono::seconds(grace_seconds));
  expect(r, {204, 304, 404}, fmt::format("stop container {}", id));
}

void DockerClient::remove_container(std::string_view id) const {
  auto r = request("DELETE", fmt::format("/containers/{}?force=true&v=true", id));
  expect(r, {204, 404}, fmt::format("remove container {}", id));
}

json DockerClient::inspect_container(std::string_view id) const {
  auto r = request("GET", fmt::format("/containers/{}/json", id));
  expect(r, {200}, fmt::format("inspect container {}", id));
  return json::parse(r.body);
}

DemuxedOutput DockerClient::logs(std::string_view id, std::string_view tail) const {
  auto r = request("GET", fmt::format("/containers/{}/logs?stdout=1&stderr=1&tail={}", id,
                                      url_encode(tail)));
  expect(r, {200}, fmt::format("logs of container {}", id));
  return demux_docker_stream(r.body);
}

json DockerClient::stats(std::string_view id) const {
  auto r = request("GET", fmt::format("/containers/{}/stats?stream=false", id));
  expect(r, {200}, fmt::format("stats of container {}", id));
  return json::parse(r.body);
}

ExecResult DockerClient::exec(std::string_view container, const std::vector<std::string>& cmd,
                              std::string_view user,
                              std::optional<std::chrono::milliseconds> timeout) const {
  std::string shown;
  for (const auto& c : cmd) shown += (shown.empty() ? "" : " ") + c;
  json create = {{"AttachStdout", true}, {"AttachStderr", true}, {"Tty", false}, {"Cmd", cmd}};
  if (!user.empty()) create["User"] = user;
  auto r = request("POST", fmt::format("/containers/{}/exec", container), create);
  expect(r, {201}, fmt::format("exec '{}' in {}", shown, container));
  const std::string exec_id = json::parse(r.body).at("Id").get<std::string>();
  // Attached start: the engine streams the framed output and closes when the command ends.
  auto s = request("POST", fmt::format("/exec/{}/start", exec_id),
                   json{{"Detach", false}, {"Tty", false}}, timeout);
  expect(s, {200, 101}, fmt::format("start exec '{}'", shown));
  auto out = demux_docker_stream(s.body);
  auto i = request("GET", fmt::format("/exec/{}/json", exec_id));
  expect(i, {200}, fmt::format("inspect exec '{}'", shown));
  auto ij = json::parse(i.body);
  ExecResult result;
  // ExitCode is null while the process runs.
  if (ij.contains("ExitCode") && ij["ExitCode"].is_number_integer())
    result.exit_code = ij["ExitCode"].get<int>();
  if (ij.contains("Running") && ij["Running"].is_boolean() && ij["Running"].get<bool>())
    throw DockerError(fmt::format("exec '{}' still running after its output closed", shown), 0);
  result.out = std::move(out.out);
  result.err = std::move(out.err);
  return result;
}

}  // namespace mailsim::net
