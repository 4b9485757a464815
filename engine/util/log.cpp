#include "engine/util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"

namespace promote::util {

namespace {

std::atomic<Verbosity> g_verbosity{Verbosity::normal};

spdlog::logger& logger() {
  // Plain stderr, one line per step: "promote [12:00:01.234] pushed main to origin".
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto made = std::make_shared<spdlog::logger>(
        "promote", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    made->set_pattern("promote [%H:%M:%S.%e] %v");
    made->set_level(spdlog::level::debug);
    made->flush_on(spdlog::level::debug);
    return made;
  }();
  return *instance;
}

}  // namespace

void set_verbosity(Verbosity verbosity) { g_verbosity = verbosity; }

Verbosity verbosity() { return g_verbosity; }

void debug(std::string_view message) {
  if (g_verbosity == Verbosity::verbose) {
    // One line per step, whatever a server, a file or a program put in the message.
    logger().debug("{}", one_line(scrub_secrets(std::string(message))));
  }
}

void notice(std::string_view message) {
  if (g_verbosity != Verbosity::quiet) {
    const std::string line = "promote: " + scrub_secrets(std::string(message)) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace promote::util
