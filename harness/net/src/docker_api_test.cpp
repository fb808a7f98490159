// DockerClient against FakeDockerEngine on a unix socket: every request is recorded, and
// the tests assert method, target and the exact JSON — our side of the Engine API.
#include "mailsim/net/docker_api.hpp"

#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mailsim/net/docker_api_fake.hpp"

namespace mailsim::net {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string temp_socket(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("mailsim-docker-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock"))
      .string();
}

struct DockerApiTest : ::testing::Test {
  FakeDockerEngine engine{temp_socket(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  DockerClient client{DockerEndpoint{engine.socket_path(), "v1.41"}, std::chrono::seconds(5)};
};

TEST(DockerHost, UnixOnly) {
  EXPECT_EQ(parse_docker_host("").socket_path, "/var/run/docker.sock");
  EXPECT_EQ(parse_docker_host("unix:///run/user/1000/docker.sock").socket_path,
            "/run/user/1000/docker.sock");
  try {
    parse_docker_host("tcp://10.0.0.5:2375");
    FAIL() << "tcp:// accepted";
  } catch (const DockerError& e) {
    EXPECT_THAT(e.what(), HasSubstr("only unix://"));
    EXPECT_THAT(e.what(), HasSubstr("tcp://10.0.0.5:2375"));
  }
  EXPECT_THROW(parse_docker_host("unix://"), DockerError);
}

TEST(DockerJson, NetworkCreateExact) {
  NetworkSpec spec{"mailsim-r1", true, {{"12.34.56.0/24", "12.34.56.1"}, {"142.250.27.24/29", "142.250.27.26"}},
                   {{"mailsim.run", "r1"}}};
  EXPECT_EQ(network_create_json(spec),
            json::parse(R"({"Name":"mailsim-r1","Driver":"bridge","Internal":true,
              "CheckDuplicate":true,
              "IPAM":{"Driver":"default","Config":[
                {"Subnet":"12.34.56.0/24","Gateway":"12.34.56.1"},
                {"Subnet":"142.250.27.24/29","Gateway":"142.250.27.26"}]},
              "Labels":{"mailsim.run":"r1"}})"));
}

TEST(DockerJson, ContainerCreateExact) {
  ContainerSpec spec;
  spec.name = "mailsim-posteio-r1";
  spec.image = "analogic/poste.io:2.5.5";
  spec.hostname = "mx.nodeseek.com";
  spec.env = {"DISABLE_CLAMAV=TRUE", "HTTPS=OFF"};
  spec.binds = {"/tmp/run/data:/data"};
  spec.dns = {"12.34.56.53"};
  spec.network = "mailsim-r1";
  spec.ipv4_address = "12.34.56.78";
  spec.labels = {{"mailsim.run", "r1"}};
  EXPECT_EQ(container_create_json(spec), json::parse(R"({
      "Image":"analogic/poste.io:2.5.5","Hostname":"mx.nodeseek.com",
      "Env":["DISABLE_CLAMAV=TRUE","HTTPS=OFF"],"Labels":{"mailsim.run":"r1"},
      "HostConfig":{"Binds":["/tmp/run/data:/data"],"Dns":["12.34.56.53"],"NetworkMode":"mailsim-r1"},
      "NetworkingConfig":{"EndpointsConfig":{"mailsim-r1":{"IPAMConfig":{"IPv4Address":"12.34.56.78"}}}}})"));
  spec.memory_bytes = 1 << 30;
  EXPECT_EQ(container_create_json(spec)["HostConfig"]["Memory"], 1 << 30);
}

TEST(DockerStream, DemuxFrames) {
  std::string raw = FakeDockerEngine::frame(1, "hello ") + FakeDockerEngine::frame(2, "oops\n") +
                    FakeDockerEngine::frame(1, "world\n");
  auto d = demux_docker_stream(raw);
  EXPECT_EQ(d.out, "hello world\n");
  EXPECT_EQ(d.err, "oops\n");
  EXPECT_FALSE(d.truncated);
  // A payload larger than 255 bytes exercises all four size bytes' order (big-endian).
  std::string big(70000, 'x');
  EXPECT_EQ(demux_docker_stream(FakeDockerEngine::frame(1, big)).out.size(), 70000u);
  // Cut inside the header, then inside the payload.
  auto cut = demux_docker_stream(raw.substr(0, 4));
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.out, "");
  auto cut2 = demux_docker_stream(raw.substr(0, 10));
  EXPECT_TRUE(cut2.truncated);
  EXPECT_EQ(cut2.out, "he");
}

TEST_F(DockerApiTest, PingInfoAndImages) {
  EXPECT_TRUE(client.ping());
  EXPECT_EQ(client.info()["ServerVersion"], "fake");
  EXPECT_FALSE(client.image_exists("analogic/poste.io:2.5.5"));
  client.pull_image("analogic/poste.io", "2.5.5");
  EXPECT_TRUE(client.image_exists("analogic/poste.io:2.5.5"));
  EXPECT_THAT(engine.request_lines(),
              ElementsAre("GET /v1.41/_ping", "GET /v1.41/info",
                          "GET /v1.41/images/analogic/poste.io:2.5.5/json",
                          "POST /v1.41/images/create?fromImage=analogic%2Fposte.io&tag=2.5.5",
                          "GET /v1.41/images/analogic/poste.io:2.5.5/json"));
}

TEST_F(DockerApiTest, PullErrorInStreamIsAnError) {
  engine.overrides[{"POST", "/images/create?fromImage=nope&tag=1"}] = {
      200, "{\"status\":\"Pulling\"}\n{\"error\":\"manifest unknown\"}\n"};
  try {
    client.pull_image("nope", "1");
    FAIL() << "pull error ignored";
  } catch (const DockerError& e) {
    EXPECT_THAT(e.what(), HasSubstr("manifest unknown"));
  }
}

TEST_F(DockerApiTest, LifeCycleRequests) {
  NetworkSpec net{"mailsim-r1", true, {{"12.34.56.0/24", "12.34.56.1"}}, {}};
  std::string net_id = client.create_network(net);
  ContainerSpec c;
  c.name = "mailsim posteio";  // the space must be encoded in the query
  c.image = "analogic/poste.io:2.5.5";
  c.network = "mailsim-r1";
  c.ipv4_address = "12.34.56.78";
  std::string id = client.create_container(c);
  client.start_container(id);
  engine.logs_payload = FakeDockerEngine::frame(1, "haraka-smtp: listening\n") +
                        FakeDockerEngine::frame(2, "warn: x\n");
  auto logs = client.logs(id);
  EXPECT_EQ(logs.out, "haraka-smtp: listening\n");
  EXPECT_EQ(logs.err, "warn: x\n");
  EXPECT_EQ(client.stats(id)["memory_stats"]["usage"], 262144000);
  client.stop_container(id, 3);
  client.remove_container(id);
  client.remove_network(net_id);

  auto reqs = engine.requests();
  ASSERT_EQ(reqs.size(), 8u);
  EXPECT_EQ(reqs[0].target, "/v1.41/networks/create");
  EXPECT_EQ(reqs[0].json(), network_create_json(net));
  EXPECT_EQ(reqs[1].target, "/v1.41/containers/create?name=mailsim%20posteio");
  EXPECT_EQ(reqs[1].json(), container_create_json(c));
  EXPECT_THAT(engine.request_lines(),
              ElementsAre("POST /v1.41/networks/create",
                          "POST /v1.41/containers/create?name=mailsim%20posteio",
                          "POST /v1.41/containers/" + id + "/start",
                          "GET /v1.41/containers/" + id + "/logs?stdout=1&stderr=1&tail=all",
                          "GET /v1.41/containers/" + id + "/stats?stream=false",
                          "POST /v1.41/containers/" + id + "/stop?t=3",
                          "DELETE /v1.41/containers/" + id + "?force=true&v=true",
                          "DELETE /v1.41/networks/" + net_id));
}

TEST_F(DockerApiTest, ExecCreateStartInspect) {
  engine.on_exec = [](const std::vector<std::string>& cmd, const std::string& user) {
    FakeExecReply r;
    r.out = "ran " + cmd.back() + " as " + user + "\n";
    r.err = "note\n";
    r.exit_code = cmd.back() == "fail" ? 3 : 0;
    return r;
  };
  auto ok = client.exec("ctr9", {"/opt/admin/bin/console", "domain:list"}, "8");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out, "ran domain:list as 8\n");
  EXPECT_EQ(ok.err, "note\n");
  auto bad = client.exec("ctr9", {"fail"});
  EXPECT_EQ(bad.exit_code, 3);
  auto reqs = engine.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(reqs[0].method + " " + reqs[0].target, "POST /v1.41/containers/ctr9/exec");
  EXPECT_EQ(reqs[0].json(), json::parse(R"({"AttachStdout":true,"AttachStderr":true,"Tty":false,
              "Cmd":["/opt/admin/bin/console","domain:list"],"User":"8"})"));
  EXPECT_THAT(reqs[1].target, ::testing::MatchesRegex("/v1.41/exec/exec[0-9]+/start"));
  EXPECT_EQ(reqs[1].json(), json::parse(R"({"Detach":false,"Tty":false})"));
  EXPECT_THAT(reqs[2].target, ::testing::MatchesRegex("/v1.41/exec/exec[0-9]+/json"));
  EXPECT_FALSE(reqs[3].json().contains("User"));  // no user → the image's default
}

TEST_F(DockerApiTest, EngineErrorsCarryStatusAndMessage) {
  engine.overrides[{"POST", "/containers/create?name=dup"}] = {
      409, R"({"message":"Conflict. The container name \"/dup\" is already in use"})"};
  ContainerSpec c;
  c.name = "dup";
  c.image = "i";
  try {
    client.create_container(c);
    FAIL() << "409 ignored";
  } catch (const DockerError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_THAT(e.what(), HasSubstr("already in use"));
    EXPECT_THAT(e.what(), HasSubstr("create container dup"));
  }
  // 404 on removal is fine (already gone), on start it is an error.
  engine.overrides[{"DELETE", "/containers/gone?force=true&v=true"}] = {404, R"({"message":"No such container: gone"})"};
  EXPECT_NO_THROW(client.remove_container("gone"));
  engine.overrides[{"POST", "/containers/gone/start"}] = {404, R"({"message":"No such container: gone"})"};
  EXPECT_THROW(client.start_container("gone"), DockerError);
}

TEST(DockerClientNoEngine, SaysWhereItLooked) {
  DockerClient c{DockerEndpoint{"/nonexistent/mailsim-docker.sock", "v1.41"}, std::chrono::seconds(1)};
  EXPECT_FALSE(c.ping());
  try {
    c.info();
    FAIL();
  } catch (const DockerError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_THAT(e.what(), HasSubstr("unix:///nonexistent/mailsim-docker.sock"));
  }
}

}  // namespace
}  // namespace mailsim::net
