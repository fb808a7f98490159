#include "mailsim/net/docker_api_fake.hpp"

#include <unistd.h>

#include <regex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace mailsim::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using json = nlohmann::json;

json RecordedRequest::json() const {
  return body.empty() ? nlohmann::json() : nlohmann::json::parse(body);
}

std::string FakeDockerEngine::frame(int stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  const auto n = static_cast<std::uint32_t>(payload.size());
  f[4] = static_cast<char>((n >> 24) & 0xff);
  f[5] = static_cast<char>((n >> 16) & 0xff);
  f[6] = static_cast<char>((n >> 8) & 0xff);
  f[7] = static_cast<char>(n & 0xff);
  return f + std::string(payload);
}

struct FakeDockerEngine::Impl {
  asio::io_context ioc;
  local::acceptor acceptor{ioc};
  std::thread thread;
};

namespace {
void accept_next(FakeDockerEngine* self, local::acceptor& acceptor,
                 const std::function<void(local::socket&)>& serve_one) {
  acceptor.async_accept([self, &acceptor, serve_one](boost::system::error_code ec, local::socket s) {
    if (ec) return;  // acceptor closed: stop
    serve_one(s);
    accept_next(self, acceptor, serve_one);
  });
}
}  // namespace

FakeDockerEngine::FakeDockerEngine(std::string socket_path)
    : socket_path_(std::move(socket_path)), impl_(std::make_unique<Impl>()) {
  ::unlink(socket_path_.c_str());
  impl_->acceptor.open();
  impl_->acceptor.bind(local::endpoint(socket_path_));
  impl_->acceptor.listen();
  auto serve_one = [this](local::socket& s) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(s, buf, req, ec);
    if (ec) return;
    RecordedRequest rec{std::string(req.method_string()), std::string(req.target()), req.body()};
    {
      std::lock_guard lock(mu_);
      requests_.push_back(rec);
    }
    std::string content_type = "application/json";
    auto [status, body] = handle(rec, content_type);
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, content_type);
    res.set(http::field::connection, "close");
    res.body() = std::move(body);
    res.prepare_payload();
    http::write(s, res, ec);
    s.shutdown(local::socket::shutdown_both, ec);
  };
  accept_next(this, impl_->acceptor, serve_one);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

FakeDockerEngine::~FakeDockerEngine() {
  asio::post(impl_->ioc, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->thread.join();
  ::unlink(socket_path_.c_str());
}

std::vector<RecordedRequest> FakeDockerEngine::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<std::string> FakeDockerEngine::request_lines() const {
  std::vector<std::string> lines;
  for (const auto& r : requests()) lines.push_back(r.method + " " + r.target);
  return lines;
}

std::pair<int, std::string> FakeDockerEngine::handle(const RecordedRequest& req,
                                                     std::string& content_type) {
  // Strip "/v1.xx" and split off the query.
  static const std::regex kVersion(R"(^/v[0-9]+\.[0-9]+)");
  std::string target = std::regex_replace(req.target, kVersion, "");
  std::string path = target.substr(0, target.find('?'));
  std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  std::lock_guard lock(mu_);
  if (auto it = overrides.find({req.method, target}); it != overrides.end()) return it->second;
  auto error = [](int status, std::string_view msg) {
    return std::pair<int, std::string>{status, json{{"message", msg}}.dump()};
  };
  std::smatch m;
  if (req.method == "GET" && path == "/_ping") {
    content_type = "text/plain";
    return {200, "OK"};
  }
  if (req.method == "GET" && path == "/info") return {200, json{{"ServerVersion", "fake"}}.dump()};
  static const std::regex kImage(R"(^/images/(.+)/json$)");
  if (req.method == "GET" && std::regex_match(path, m, kImage)) {
    for (const auto& i : images)
      if (i == m[1].str()) return {200, json{{"Id", "sha256:fake"}}.dump()};
    return error(404, "No such image: " + m[1].str());
  }
  if (req.method == "POST" && path == "/images/create") {
    static const std::regex kFrom(R"(fromImage=([^&]*)&tag=([^&]*))");
    std::smatch q;
    if (!std::regex_search(query, q, kFrom)) return error(400, "fromImage and tag required");
    std::string image = q[1].str();
    for (std::size_t p; (p = image.find("%2F")) != std::string::npos;) image.replace(p, 3, "/");
    images.push_back(image + ":" + q[2].str());
    return {200, "{\"status\":\"Pulling\"}\n{\"status\":\"Downloaded newer image\"}\n"};
  }
  if (req.method == "POST" && path == "/networks/create")
    return {201, json{{"Id", fmt::format("net{}", next_id_++)}, {"Warning", ""}}.dump()};
  static const std::regex kNetwork(R"(^/networks/([^/]+)$)");
  if (req.method == "DELETE" && std::regex_match(path, m, kNetwork)) return {204, ""};
  if (req.method == "POST" && path == "/containers/create")
    return {201, json{{"Id", fmt::format("ctr{}", next_id_++)}, {"Warnings", json::array()}}.dump()};
  static const std::regex kContainer(R"(^/containers/([^/]+)(/[a-z]+)?$)");
  if (std::regex_match(path, m, kContainer)) {
    const std::string id = m[1].str(), op = m[2].str();
    if (req.method == "POST" && (op == "/start" || op == "/stop")) return {204, ""};
    if (req.method == "DELETE" && op.empty()) return {204, ""};
    if (req.method == "GET" && op == "/json")
      return {200, json{{"Id", id}, {"State", {{"Status", "running"}, {"Running", true}}}}.dump()};
    if (req.method == "GET" && op == "/logs") {
      content_type = "application/vnd.docker.multiplexed-stream";
      return {200, logs_payload};
    }
    if (req.method == "GET" && op == "/stats")
      return {200, json{{"memory_stats", {{"usage", 262144000}, {"limit", 2147483648LL}}}}.dump()};
    if (req.method == "POST" && op == "/exec") {
      auto body = json::parse(req.body);
      std::string eid = fmt::format("exec{}", next_id_++);
      execs_[eid] = {body.at("Cmd").get<std::vector<std::string>>(), body.value("User", "")};
      return {201, json{{"Id", eid}}.dump()};
    }
  }
  static const std::regex kExec(R"(^/exec/([^/]+)/(start|json)$)");
  if (std::regex_match(path, m, kExec)) {
    auto it = execs_.find(m[1].str());
    if (it == execs_.end()) return error(404, "No such exec instance");
    if (m[2] == "start") {
      FakeExecReply reply;
      if (on_exec) reply = on_exec(it->second.first, it->second.second);
      exec_exit_[m[1].str()] = reply.exit_code;
      content_type = "application/vnd.docker.multiplexed-stream";
      std::string payload;
      if (!reply.out.empty()) payload += frame(1, reply.out);
      if (!reply.err.empty()) payload += frame(2, reply.err);
      return {200, payload};
    }
    auto done = exec_exit_.find(m[1].str());
    if (done == exec_exit_.end())  // created, never started: the engine says null
      return {200, json{{"ID", m[1].str()}, {"Running", false}, {"ExitCode", nullptr}}.dump()};
    return {200, json{{"ID", m[1].str()}, {"Running", false}, {"ExitCode", done->second}}.dump()};
  }
  return error(404, fmt::format("fake engine: no route for {} {}", req.method, path));
}

}  // namespace mailsim::net
