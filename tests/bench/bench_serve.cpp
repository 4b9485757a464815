// `promote serve` under load (issue 18): 50 pipelines of 3 stages (dev -> staging -> prod over
// kustomize overlays) in a real git repository this program writes, served by the real binary
// on 127.0.0.1. First a burst of webhook deliveries, each image event sent twice with one
// delivery id, all at once: every one must be answered, every replay recognised, and once the
// loop has promoted them no candidate may be promoted twice into a stage. Then the read
// endpoints at a fixed rate over a bounded pool of kept-alive connections, open loop (wrk2's
// way): a latency counts from the time the request was scheduled, so time spent queued behind
// a slow answer counts too. Last, the service's peak RSS (VmHWM) and its stop by SIGTERM.
// Boost.Beast is included here for the client side of the benchmark only.
//
//   bench_serve PROMOTE [--seconds 30] [--rate 1000] [--connections 16] [--images 100]
//               [--path PATH]... [--only] [--keep]
// --path adds a path to the reads' defaults, --only reads the given paths alone; --keep keeps
// the temporary directory (the repository and the service's log).
//
// Human lines go to stderr; the last line of stdout is, for tests/bench/run:
//   result P50_MS P99_MS MAX_MS ERRORS RATE RSS_KIB DELIVERIES ANSWERED REPLAYS PROMOTED TWICE
//          WORST_PATH WORST_P99_MS
// Exits 1 when a delivery went unanswered or unrecognised, an image was not promoted once, a
// candidate was promoted twice, or the service failed; 2 on bad arguments.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/util/hash.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_pipelines = 50;
constexpr std::size_t k_hook_connections = 50;
constexpr const char* k_secret = "bench-image-webhook-secret";

struct Options {
  std::string promote;
  double seconds = 30;
  double rate = 1000;
  std::size_t connections = 16;
  std::size_t images = 100;  ///< distinct image events, each delivered twice
  std::vector<std::string> paths = {"/healthz", "/api/v1/pipelines", "/api/v1/pipelines/p07",
                                    "/api/v1/pipelines/p07/history?limit=20", "/metrics"};
  bool keep = false;
};

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The `q` quantile (0..1) of `values`, sorted in place; 0 for none.
double quantile(std::vector<double>& values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5)];
}

std::string pipeline_name(std::size_t i) {
  return (i < 10 ? "p0" : "p") + std::to_string(i);
}

// The fixture's files: NAME is the pipeline's name, TAG a tag; a line starting with WEB is kept
// (without WEB) for a pipeline of two images only. Overlays have the shape of the examples of
// kubernetes-sigs/kustomize, reports that of Maven Surefire's TEST-*.xml (apache/maven-surefire).
constexpr const char* k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: NAME}
interval: 1m
images:
  - {name: api, repository: ghcr.io/acme/NAME-api}
WEB  - {name: web, repository: ghcr.io/acme/NAME-web}
stages:
  - name: dev
    auto: true                    # takes the images that webhooks offer
    target: {kustomize: NAME/overlays/dev}
  - name: staging
    from: dev
    auto: true
    target: {kustomize: NAME/overlays/staging}
    gates:
      - {use: junit, with: {path: reports/NAME.xml, min_tests: 3}}
      - {use: soak, with: {min: 1h}}
  - name: prod
    from: staging
    target: {kustomize: NAME/overlays/prod}
    gates:
      - {use: soak, with: {min: 2h}}
      - {use: approval, with: {approvers: [alice, bob], min: 1}}
)";
constexpr const char* k_overlay = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: ghcr.io/acme/NAME-api
    newTag: 1.TAG
WEB  - name: ghcr.io/acme/NAME-web
WEB    newTag: 3.TAG
)";
constexpr const char* k_base = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
)";
constexpr const char* k_deployment = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  template:
    spec:
      containers:
        - {name: api, image: "ghcr.io/acme/NAME-api:0.0.0"}
WEB        - {name: web, image: "ghcr.io/acme/NAME-web:0.0.0"}
)";
constexpr const char* k_junit = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.NAME.ApiTest" tests="3" failures="0" errors="0" skipped="0" time="0.03">
  <testcase name="creates" classname="com.acme.NAME.ApiTest" time="0.01"/>
  <testcase name="reads" classname="com.acme.NAME.ApiTest" time="0.01"/>
  <testcase name="lists" classname="com.acme.NAME.ApiTest" time="0.01"/>
</testsuite>
)";

// Writes `text` to `path` for pipeline `name` (see above).
void write_filled(const fs::path& path, const std::string& text, const std::string& name, bool web,
                  const std::string& tag = "") {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("WEB") && !web) {
      continue;
    }
    line.erase(0, line.starts_with("WEB") ? 3 : 0);
    for (const auto& [from, to] : {std::pair{"NAME", name}, std::pair{"TAG", tag}}) {
      for (auto at = line.find(from); at != std::string::npos; at = line.find(from, at)) {
        line.replace(at, std::string_view(from).size(), to);
      }
    }
    out += line + "\n";
  }
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << out;
}

// The repository the service promotes in, pushed to a bare remote beside it: pipelines/pNN.yaml
// (dev, auto; staging, auto, from dev after junit and a soak of an hour; prod, by hand, after a
// soak and an approval), each with its base, overlays and JUnit report. Returns the checkout,
// or an empty path when git failed.
fs::path make_fixture(const fs::path& root) {
  const fs::path dir = root / "deploy/pipelines";
  for (std::size_t i = 0; i < k_pipelines; ++i) {
    const std::string name = pipeline_name(i);
    const bool web = i % 2 == 0;  // every other pipeline promotes two images
    write_filled(dir / (name + ".yaml"), k_pipeline, name, web);
    write_filled(dir / name / "base/kustomization.yaml", k_base, name, web);
    write_filled(dir / name / "base/deployment.yaml", k_deployment, name, web);
    write_filled(dir / name / "overlays/dev/kustomization.yaml", k_overlay, name, web, "1.0");
    for (const char* stage : {"staging", "prod"}) {
      write_filled(dir / name / "overlays" / stage / "kustomization.yaml", k_overlay, name, web,
                   "0.0");
    }
    write_filled(dir / "reports" / (name + ".xml"), k_junit, name, web);
  }
  const std::string script =
      "cd '" + root.string() +
      "' && git init -q --bare -b main remote.git && cd deploy && git init -q -b main && "
      "git config user.name 'Deploy CI' && git config user.email ci@deploy.example && "
      "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
      "git remote add origin ../remote.git && git push -q -u origin main";
  return std::system(script.c_str()) == 0 ? root / "deploy" : fs::path();
}

// Starts `promote serve` on every pipeline of `repo`, stderr to `log`, and reads its stdout
// until it says where it listens: its pid (-1 when it could not start) and that line.
std::pair<pid_t, std::string> start_child(const Options& options, const fs::path& repo,
                                          const fs::path& log) {
  std::vector<std::string> argv = {options.promote, "serve", "--listen", "127.0.0.1:0"};
  for (std::size_t i = 0; i < k_pipelines; ++i) {
    argv.insert(argv.end(), {"-f", "pipelines/" + pipeline_name(i) + ".yaml"});
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return {-1, ""};
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    for (const char* name : {"PROMOTE_HISTORY", "GITHUB_ACTIONS", "GITLAB_CI", "PROMOTE_ACTOR"}) {
      ::unsetenv(name);
    }
    ::setenv("PROMOTE_IMAGE_WEBHOOK_SECRET", k_secret, 1);
    ::setenv("NO_COLOR", "1", 1);
    std::vector<char*> pointers;
    for (auto& arg : argv) {
      pointers.push_back(arg.data());
    }
    pointers.push_back(nullptr);
    if (::chdir(repo.c_str()) == 0) {
      ::execv(pointers[0], pointers.data());
    }
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  const auto deadline = Clock::now() + 60s;
  while (pid > 0 && line.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd entry{out[0], POLLIN, 0};
    if (::poll(&entry, 1, 1000) <= 0) {
      continue;
    }
    char buffer[256] = {};
    const ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) {
      break;  // it ended
    }
    line.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);  // it prints nothing more
  return {pid, line.substr(0, line.find('\n'))};
}

// A field of /proc/PID/status ("VmHWM", "VmRSS") in KiB, or -1.
long proc_status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) {
      return std::atol(line.c_str() + field.size() + 1);
    }
  }
  return -1;
}

double mib(long kib) {
  return static_cast<double>(kib) / 1024;
}

// Sends SIGTERM and waits up to 30 s: how it ended, "" when cleanly (by the signal, as the
// README says, or exit 0).
std::string stop_child(pid_t pid) {
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + 30s;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return "still running 30 s after SIGTERM (killed)";
    }
    ::usleep(20'000);
  }
  if (WIFSIGNALED(status)) {
    return WTERMSIG(status) == SIGTERM ? "" : "signal " + std::to_string(WTERMSIG(status));
  }
  return WEXITSTATUS(status) == 0 ? "" : "exit " + std::to_string(WEXITSTATUS(status));
}

struct Reply {
  unsigned status = 0;  ///< 0: the connection broke or timed out
  std::string body;     ///< the body, or what broke
};

// A kept-alive connection to the service, opened again when it broke or the service closed it.
class Connection {
 public:
  Connection(const asio::any_io_executor& executor, tcp::endpoint endpoint)
      : m_stream(executor), m_endpoint(endpoint) {}

  /// Sends `method target` with `headers` and `body`, and reads the answer (30 s at most). A
  /// kept-alive connection the service closed meanwhile (idle longer than its 10 s) is opened
  /// again and the request sent once more, as HTTP clients do for a request that got no byte
  /// of answer (RFC 9112, 9.3.1); `retried` counts those.
  asio::awaitable<Reply> send(beast::http::verb method, const std::string& target,
                              const Headers& headers = {}, const std::string& body = {}) {
    const bool reused = m_open;
    Reply reply = co_await send_once(method, target, headers, body);
    if (reused && reply.status == 0 &&
        (reply.body == beast::error_code(beast::http::error::end_of_stream).message() ||
         reply.body == beast::error_code(asio::error::connection_reset).message() ||
         reply.body == beast::error_code(asio::error::broken_pipe).message())) {
      ++retried;
      reply = co_await send_once(method, target, headers, body);
    }
    co_return reply;
  }

  std::size_t retried = 0;

 private:
  asio::awaitable<Reply> send_once(beast::http::verb method, const std::string& target,
                                   const Headers& headers, const std::string& body) {
    beast::error_code ec;
    if (!m_open) {
      m_stream.expires_after(30s);
      std::tie(ec) = co_await m_stream.async_connect(m_endpoint, k_tuple);
      if (ec) {
        co_return Reply{0, "connect: " + ec.message()};
      }
      m_open = true;
    }
    beast::http::request<beast::http::string_body> request{method, target, 11};
    request.set(beast::http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) {
      request.set(name, value);
    }
    request.body() = body;
    request.prepare_payload();
    m_stream.expires_after(30s);
    std::size_t ignored = 0;
    std::tie(ec, ignored) = co_await beast::http::async_write(m_stream, request, k_tuple);
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(64 << 20);
    if (!ec) {
      std::tie(ec, ignored) = co_await beast::http::async_read(m_stream, m_buffer, parser, k_tuple);
    }
    if (ec || !parser.get().keep_alive()) {
      beast::error_code closing;
      m_stream.socket().shutdown(tcp::socket::shutdown_both, closing);
      m_stream.close();
      m_buffer.clear();
      m_open = false;
    }
    co_return ec ? Reply{0, ec.message()}
                 : Reply{parser.get().result_int(), std::move(parser.get().body())};
  }

  beast::tcp_stream m_stream;
  tcp::endpoint m_endpoint;
  beast::flat_buffer m_buffer;
  bool m_open = false;
};

asio::awaitable<void> sleep_for(Clock::duration wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  co_await timer.async_wait(k_tuple);
}

// --- webhooks ---------------------------------------------------------------------------------

struct Delivery {
  std::string id;
  std::string image;
  std::string body;
  std::vector<std::pair<unsigned, std::string>> answers;  ///< status, "action" (or the error)
};

// Sends each delivery twice (one id, one body), in a shuffled order, over k_hook_connections at
// once; the answers go to the deliveries. Returns each request's time to its answer.
asio::awaitable<std::vector<double>> burst(tcp::endpoint endpoint,
                                           std::vector<Delivery>& deliveries) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < deliveries.size() * 2; ++i) {
    order.push_back(i / 2);
  }
  std::shuffle(order.begin(), order.end(), std::mt19937(18));
  std::vector<double> ms;
  std::size_t next = 0;
  std::size_t running = k_hook_connections;
  const auto executor = co_await asio::this_coro::executor;
  for (std::size_t c = 0; c < k_hook_connections; ++c) {
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          Connection connection(executor, endpoint);
          while (next < order.size()) {
            Delivery& delivery = deliveries[order[next++]];
            // Built before the co_await: gcc 12 rejects a braced list of literals in one.
            Headers headers;
            headers.emplace_back("Content-Type", "application/json");
            headers.emplace_back("X-Promote-Delivery", delivery.id);
            headers.emplace_back(
                "X-Promote-Signature-256",
                "sha256=" + promote::util::hmac_sha256_hex(k_secret, delivery.body));
            const auto sent = Clock::now();
            const Reply reply = co_await connection.send(beast::http::verb::post, "/hooks/image",
                                                         headers, delivery.body);
            ms.push_back(ms_between(sent, Clock::now()));
            const json answer = json::parse(reply.body, nullptr, false);
            delivery.answers.emplace_back(reply.status, answer.is_object()
                                                            ? answer.value("action", "")
                                                            : reply.body.substr(0, 200));
          }
          --running;
        },
        asio::detached);
  }
  while (running > 0) {
    co_await sleep_for(1ms);
  }
  co_return ms;
}

// The promoted records of every pipeline's history: how many into dev, and how many times a
// candidate was promoted into a stage it had already been promoted into (named on stderr when
// `tell`). {-1, -1} when a history could not be read.
asio::awaitable<std::pair<long, long>> promoted(Connection& connection, bool tell) {
  long dev = 0;
  long twice = 0;
  for (std::size_t i = 0; i < k_pipelines; ++i) {
    const std::string name = pipeline_name(i);
    const Reply reply = co_await connection.send(
        beast::http::verb::get, "/api/v1/pipelines/" + name + "/history?limit=500");
    json page = json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || !page.is_object() || !page["promotions"].is_array()) {
      std::fprintf(stderr, "  %s's history: %u %s\n", name.c_str(), reply.status,
                   reply.body.substr(0, 300).c_str());
      co_return std::pair{-1L, -1L};
    }
    std::map<std::pair<std::string, std::string>, int> seen;
    for (const json& row : page["promotions"]) {
      if (row.value("outcome", "") != "promoted") {
        continue;
      }
      const std::string stage = row.value("stage", "");
      const std::string candidate = row.value("candidate_id", "");
      dev += stage == "dev" ? 1 : 0;
      if (++seen[{stage, candidate}] == 2) {
        ++twice;
        if (tell) {
          std::fprintf(stderr, "  %s/%s: candidate %s promoted twice\n", name.c_str(),
                       stage.c_str(), candidate.c_str());
        }
      }
    }
  }
  co_return std::pair{dev, twice};
}

// --- reads ------------------------------------------------------------------------------------

struct PathStats {
  std::vector<double> ms;       ///< from the scheduled time to the answer
  std::vector<double> service;  ///< from the send to the answer
  std::size_t errors = 0;       ///< non-2xx, broken, or never sent
};

struct ReadRun {
  std::vector<PathStats> paths;
  std::size_t scheduled = 0;
  std::size_t answered = 0;
  std::size_t abandoned = 0;  ///< never sent: still queued 10 s after the schedule's end
  std::size_t retried = 0;    ///< sent again on a new connection: the service closed an idle one
  double seconds = 0;         ///< from the first scheduled send to the last answer
};

// `rate` requests a second for `seconds`, cycling through `paths`, each taken at its scheduled
// time by the first of `connections` that is free. An abandoned request counts as an error and
// its time in the queue as its latency (a lower bound).
asio::awaitable<ReadRun> reads(tcp::endpoint endpoint, const Options& options) {
  struct Job {
    std::size_t path;
    Clock::time_point at;
  };
  std::deque<Job> queue;
  std::vector<asio::steady_timer*> sleeping;  // free connections, woken by a cancel
  bool done = false;
  std::size_t running = options.connections;
  ReadRun run;
  run.paths.resize(options.paths.size());
  run.scheduled = static_cast<std::size_t>(options.rate * options.seconds);
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options.rate));
  const auto start = Clock::now() + 10ms;
  const auto give_up = start + period * run.scheduled + 10s;
  auto last = start;
  const auto executor = co_await asio::this_coro::executor;
  for (std::size_t c = 0; c < options.connections; ++c) {
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          Connection connection(executor, endpoint);
          asio::steady_timer wake(executor);
          while (!queue.empty() || !done) {
            if (queue.empty()) {
              wake.expires_at(Clock::time_point::max());
              sleeping.push_back(&wake);
              co_await wake.async_wait(k_tuple);
              continue;
            }
            const Job job = queue.front();
            queue.pop_front();
            PathStats& stats = run.paths[job.path];
            if (Clock::now() > give_up) {
              ++run.abandoned;
              ++stats.errors;
              stats.ms.push_back(ms_between(job.at, Clock::now()));
              continue;
            }
            const auto sent = Clock::now();
            const Reply reply =
                co_await connection.send(beast::http::verb::get, options.paths[job.path]);
            last = Clock::now();
            stats.ms.push_back(ms_between(job.at, last));
            stats.service.push_back(ms_between(sent, last));
            ++run.answered;
            if ((reply.status < 200 || reply.status > 299) && stats.errors++ == 0) {
              std::fprintf(stderr, "  first error on %s: %u %s\n", options.paths[job.path].c_str(),
                           reply.status, reply.body.substr(0, 200).c_str());
            }
          }
          run.retried += connection.retried;
          --running;
        },
        asio::detached);
  }
  asio::steady_timer tick(executor);
  for (std::size_t i = 0; i < run.scheduled; ++i) {
    const auto at = start + period * i;
    if (at > Clock::now()) {
      tick.expires_at(at);
      co_await tick.async_wait(k_tuple);
    }
    queue.push_back(Job{i % options.paths.size(), at});
    if (!sleeping.empty()) {
      sleeping.back()->cancel();
      sleeping.pop_back();
    }
  }
  done = true;
  for (auto* timer : sleeping) {
    timer->cancel();
  }
  while (running > 0) {
    co_await sleep_for(1ms);
  }
  run.seconds = ms_between(start, last) / 1000;
  co_return run;
}

// --- the run ----------------------------------------------------------------------------------

// Everything once the service listens: prints the result line and returns the exit code.
asio::awaitable<int> bench(tcp::endpoint endpoint, const Options& options, pid_t pid) {
  Connection control(co_await asio::this_coro::executor, endpoint);
  const long hwm_start = proc_status_kib(pid, "VmHWM");
  // The loop evaluates every staging (an auto stage with a source) at once: wait for them.
  auto since = Clock::now();
  for (double evaluations = 0; evaluations < k_pipelines && Clock::now() - since < 300s;) {
    co_await sleep_for(100ms);
    const Reply metrics = co_await control.send(beast::http::verb::get, "/metrics");
    std::istringstream lines(metrics.body);
    evaluations = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("promote_auto_evaluations_total{")) {
        evaluations += std::atof(line.c_str() + line.rfind(' ') + 1);
      }
    }
  }
  std::fprintf(stderr, "start: the loop's first evaluation of %zu staging stages took %.1f s\n",
               k_pipelines, ms_between(since, Clock::now()) / 1000);
  const long hwm_loop = proc_status_kib(pid, "VmHWM");

  std::vector<Delivery> deliveries(options.images);
  for (std::size_t i = 0; i < options.images; ++i) {
    deliveries[i].image = "ghcr.io/acme/" + pipeline_name(i % k_pipelines) + "-api:2.0." +
                          std::to_string(i / k_pipelines);
    deliveries[i].id = "bench-" + std::to_string(i);
    deliveries[i].body = json{{"image", deliveries[i].image}}.dump();
  }
  since = Clock::now();
  std::vector<double> hook_ms = co_await burst(endpoint, deliveries);
  const double burst_s = ms_between(since, Clock::now()) / 1000;
  std::size_t sent = 0;
  std::size_t answered = 0;
  std::size_t replays = 0;
  std::size_t problems = 0;
  std::map<unsigned, std::size_t> statuses;
  for (const Delivery& delivery : deliveries) {
    std::size_t accepted = 0;
    std::size_t replayed = 0;
    std::string told;
    for (const auto& [status, action] : delivery.answers) {
      ++sent;
      ++statuses[status];
      answered += status != 0 ? 1 : 0;
      accepted += status == 202 && action == "image" ? 1 : 0;
      replayed += status == 200 && action == "replay" ? 1 : 0;
      told += " " + std::to_string(status) + " " + action + ";";
    }
    replays += replayed;
    if (accepted != 1 || replayed != 1) {
      ++problems;
      std::fprintf(stderr, "  delivery %s (%s):%s\n", delivery.id.c_str(), delivery.image.c_str(),
                   told.c_str());
    }
  }
  std::string counts_text;
  for (const auto& [status, count] : statuses) {
    counts_text += ", " + std::to_string(count) + " x " + std::to_string(status);
  }
  std::fprintf(stderr,
               "webhooks: %zu deliveries (%zu image events, each twice) in %.2f s over %zu "
               "connections: %zu answered (%s), %zu replays recognised, %zu problems; answered "
               "in p50 %.1f ms, max %.1f ms\n",
               sent, deliveries.size(), burst_s, k_hook_connections, answered,
               counts_text.c_str() + 2, replays, problems, quantile(hook_ms, 0.5),
               quantile(hook_ms, 1));
  // Settled: every image promoted into dev and nothing new for 3 s, or nothing new for 60 s.
  since = Clock::now();
  std::pair<long, long> counts{0, 0};
  auto changed = Clock::now();
  while (Clock::now() - changed < (counts.first >= static_cast<long>(options.images) ? 3s : 60s)) {
    const auto now = co_await promoted(control, false);
    changed = now != counts ? Clock::now() : changed;
    counts = now;
    co_await sleep_for(250ms);
  }
  counts = co_await promoted(control, true);
  std::fprintf(stderr,
               "webhooks: %ld promotions into dev recorded (%zu expected), the last %.1f s after "
               "the burst; %ld candidates promoted twice into a stage\n",
               counts.first, deliveries.size(), ms_between(since, changed) / 1000, counts.second);
  const long hwm_hooks = proc_status_kib(pid, "VmHWM");

  ReadRun run = co_await reads(endpoint, options);
  std::vector<double> all;
  std::size_t errors = 0;
  std::string worst = "-";
  double worst_p99 = -1;
  for (std::size_t p = 0; p < run.paths.size(); ++p) {
    PathStats& stats = run.paths[p];
    all.insert(all.end(), stats.ms.begin(), stats.ms.end());
    errors += stats.errors;
    const double p99 = quantile(stats.ms, 0.99);
    if (p99 > worst_p99) {
      worst_p99 = p99;
      worst = options.paths[p];
    }
    std::fprintf(stderr,
                 "  %-40s %6zu answers %5zu errors  p50 %8.2f  p99 %8.2f  max %8.2f ms  "
                 "(from the send: p50 %.2f, p99 %.2f)\n",
                 options.paths[p].c_str(), stats.service.size(), stats.errors,
                 quantile(stats.ms, 0.5), p99, quantile(stats.ms, 1), quantile(stats.service, 0.5),
                 quantile(stats.service, 0.99));
  }
  const double rate = run.seconds > 0 ? static_cast<double>(run.answered) / run.seconds : 0;
  const long hwm = proc_status_kib(pid, "VmHWM");
  std::fprintf(stderr,
               "reads: %zu scheduled at %.0f/s for %.0f s over %zu connections: %zu answered "
               "(%.1f/s), %zu errors (%zu never sent), %zu sent again on a new connection (the "
               "service closed the idle one); p50 %.2f ms, p99 %.2f ms, max %.2f ms\n"
               "memory: VmHWM %.1f MiB once listening, %.1f after the loop's first evaluations, "
               "%.1f after the webhooks, %.1f at the end (VmRSS %.1f)\n",
               run.scheduled, options.rate, options.seconds, options.connections, run.answered,
               rate, errors, run.abandoned, run.retried, quantile(all, 0.5), quantile(all, 0.99),
               quantile(all, 1), mib(hwm_start), mib(hwm_loop), mib(hwm_hooks), mib(hwm),
               mib(proc_status_kib(pid, "VmRSS")));
  std::printf("result %.3f %.3f %.3f %zu %.1f %ld %zu %zu %zu %ld %ld %s %.3f\n",
              quantile(all, 0.5), quantile(all, 0.99), quantile(all, 1), errors, rate, hwm, sent,
              answered, replays, counts.first, counts.second, worst.c_str(), worst_p99);
  const bool violated = answered != sent || problems != 0 ||
                        counts.first != static_cast<long>(options.images) || counts.second != 0;
  co_return violated ? 1 : 0;
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  std::vector<std::string> paths;
  bool only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    const bool numeric = !value.empty() && std::atof(value.c_str()) > 0;
    if (arg == "--keep" || arg == "--only") {
      (arg == "--keep" ? options.keep : only) = true;
    } else if (arg == "--path" && value.starts_with("/")) {
      paths.push_back(argv[++i]);
    } else if (numeric && (arg == "--seconds" || arg == "--rate")) {
      (arg == "--seconds" ? options.seconds : options.rate) = std::atof(argv[++i]);
    } else if (numeric && (arg == "--connections" || arg == "--images")) {
      (arg == "--images" ? options.images : options.connections) =
          static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (options.promote.empty() && !arg.starts_with("-")) {
      options.promote = fs::absolute(arg).string();
    } else {
      return std::nullopt;
    }
  }
  if (only) {
    options.paths.clear();
  }
  options.paths.insert(options.paths.end(), paths.begin(), paths.end());
  if (options.promote.empty() || options.paths.empty() || options.connections == 0) {
    return std::nullopt;
  }
  return options;
}

// Writes the fixture in `root`, starts the service, runs the benchmark and stops the service:
// the exit code.
int run(const Options& options, const fs::path& root) {
  const fs::path repo = make_fixture(root);
  if (repo.empty()) {
    std::fprintf(stderr, "bench_serve: the fixture's git commands failed\n");
    return 1;
  }
  const std::string log = (root / "serve.log").string();
  const auto [pid, line] = start_child(options, repo, log);
  std::fprintf(stderr, "%s\n", line.c_str());
  const auto at = line.find("http://127.0.0.1:");
  if (at == std::string::npos) {
    std::fprintf(stderr, "bench_serve: promote serve did not start; its log:\n");
    [[maybe_unused]] const int shown = std::system(("tail -20 '" + log + "' >&2").c_str());
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    return 1;
  }
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(std::atoi(line.c_str() + at + 17)));
  asio::io_context io;
  auto done = asio::co_spawn(io, bench(endpoint, options, pid), asio::use_future);
  io.run();
  int code = 1;
  try {
    code = done.get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve: %s\n", e.what());
  }
  const std::string ended = stop_child(pid);
  std::fprintf(stderr, "stop: %s\n", ended.empty() ? "SIGTERM ended it" : ended.c_str());
  if (fs::file_size(log) > 0) {
    std::fprintf(stderr, "the service's log ends:\n");
    [[maybe_unused]] const int shown = std::system(("tail -5 '" + log + "' >&2").c_str());
  }
  return ended.empty() ? code : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) {
    std::fprintf(stderr,
                 "usage: bench_serve PROMOTE [--seconds 30] [--rate 1000] [--connections 16] "
                 "[--images 100] [--path PATH]... [--only] [--keep]\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const fs::path root =
      fs::temp_directory_path() / ("promote-bench-serve-" + std::to_string(std::random_device()()));
  fs::create_directories(root);
  const int code = run(*options, root);
  std::error_code ec;
  if (options->keep) {
    std::fprintf(stderr, "kept %s\n", root.c_str());
  } else {
    fs::remove_all(root, ec);
  }
  return code;
}
