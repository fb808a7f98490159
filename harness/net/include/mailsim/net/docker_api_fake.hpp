// Test support: a local HTTP server on a unix socket that implements the documented subset
// of the Docker Engine API that DockerClient speaks, and records every request. It proves
// our requests (method, target, exact JSON), not a real engine — see docs/posteio.md.
//
// The fake keeps a little state so a whole life cycle can run against it: networks and
// containers get ids, exec instances remember their command, and `on_exec` decides what a
// command prints and returns (the poste.io console's output in the adapter's tests).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mailsim::net {

struct RecordedRequest {
  std::string method;
  std::string target;  // with the version prefix and query ("/v1.41/networks/create")
  std::string body;    // raw body
  nlohmann::json json() const;  // body parsed (null if empty)
};

struct FakeExecReply {
  int exit_code = 0;
  std::string out;
  std::string err;
};

class FakeDockerEngine {
 public:
  // Listens on `socket_path` (removed first if it exists) in a background thread.
  explicit FakeDockerEngine(std::string socket_path);
  ~FakeDockerEngine();
  FakeDockerEngine(const FakeDockerEngine&) = delete;
  FakeDockerEngine& operator=(const FakeDockerEngine&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  std::vector<RecordedRequest> requests() const;
  // "METHOD target" of every request, in order (the quickest thing to assert).
  std::vector<std::string> request_lines() const;

  // What an exec'd command prints; default: exit 0, no output.
  std::function<FakeExecReply(const std::vector<std::string>& cmd, const std::string& user)>
      on_exec;
  // Raw framed bytes the logs endpoint returns (build with frame()).
  std::string logs_payload;
  // Images that exist; images/create adds one.
  std::vector<std::string> images;
  // Overrides: (method, target without version) → (status, body), checked first.
  std::map<std::pair<std::string, std::string>, std::pair<int, std::string>> overrides;

  // One 8-byte-header frame: stream 1 = stdout, 2 = stderr.
  static std::string frame(int stream, std::string_view payload);

 private:
  struct Impl;
  std::pair<int, std::string> handle(const RecordedRequest& req, std::string& content_type);

  std::string socket_path_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
  std::map<std::string, std::pair<std::vector<std::string>, std::string>> execs_;  // id → cmd,user
  std::map<std::string, int> exec_exit_;  // exec id → exit code, once started
  int next_id_ = 1;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailsim::net
