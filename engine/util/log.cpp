#include "engine/util/log.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

namespace promote::util {

namespace {

std::atomic<Verbosity> g_verbosity{Verbosity::normal};
std::atomic<LogFormat> g_format{LogFormat::text};

// Stderr, a whole line at a time (flushed), or a test's capture instead.
class Output final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_capture(std::function<void(std::string_view)> capture) {
    std::lock_guard lock(mutex_);
    m_capture = std::move(capture);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t line;
    formatter_->format(message, line);
    if (m_capture) {
      std::string_view text(line.data(), line.size());
      if (text.ends_with('\n')) {
        text.remove_suffix(1);
      }
      m_capture(text);
      return;
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::function<void(std::string_view)> m_capture;
};

struct Logger {
  std::shared_ptr<Output> output = std::make_shared<Output>();
  spdlog::logger logger{"promote", output};
  Logger() {
    // Each line is made whole here (text or JSON): spdlog adds only the line feed.
    logger.set_pattern("%v");
    logger.set_level(spdlog::level::debug);
  }
};

Logger& instance() {
  static Logger made;
  return made;
}

void write(spdlog::level::level_enum level, const std::string& line) {
  instance().logger.log(level, spdlog::string_view_t(line.data(), line.size()));
}

// "2026-11-23T18:32:00.123Z".
std::string rfc3339_milliseconds(std::chrono::system_clock::time_point at) {
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const auto milliseconds = static_cast<int>(((since_epoch % 1000) + 1000) % 1000);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", milliseconds);
  return format_utc(at, "%Y-%m-%dT%H:%M:%S") + fraction;
}

// "12:00:01.234", local time, as the text lines of --verbose have always shown it.
std::string local_clock() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  const auto milliseconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char text[16];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<int>(milliseconds));
  return text;
}

// One JSON object: time, level, message, then `fields` (flat: strings and numbers), every string
// with the secrets hidden; bytes that are not UTF-8 as U+FFFD, everything past ASCII escaped.
std::string json_line(std::string_view level, std::string_view message,
                      nlohmann::ordered_json fields = nlohmann::ordered_json::object()) {
  const auto secrets = secret_values();
  nlohmann::ordered_json line;
  line["time"] = rfc3339_milliseconds(std::chrono::system_clock::now());
  line["level"] = level;
  line["message"] = scrub(std::string(message), secrets);
  for (auto& [name, value] : fields.items()) {
    if (value.is_string()) {
      value = scrub(value.get<std::string>(), secrets);
    }
    line[name] = std::move(value);
  }
  return line.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

void set_verbosity(Verbosity verbosity) { g_verbosity = verbosity; }

Verbosity verbosity() { return g_verbosity; }

void set_log_format(LogFormat format) {
  g_format = format;
}

LogFormat log_format() {
  return g_format;
}

void debug(std::string_view message) {
  if (g_verbosity != Verbosity::verbose) {
    return;
  }
  if (g_format == LogFormat::json) {
    write(spdlog::level::debug, json_line("debug", message));
    return;
  }
  // One line per step, whatever a server, a file or a program put in the message.
  write(spdlog::level::debug,
        "promote [" + local_clock() + "] " + one_line(scrub_secrets(std::string(message))));
}

void notice(std::string_view message) {
  if (g_verbosity == Verbosity::quiet) {
    return;
  }
  if (g_format == LogFormat::json) {
    write(spdlog::level::info, json_line("info", message));
    return;
  }
  write(spdlog::level::info, "promote: " + scrub_secrets(std::string(message)));
}

bool access_logged() {
  return g_format == LogFormat::json ? g_verbosity != Verbosity::quiet
                                     : g_verbosity == Verbosity::verbose;
}

void access(const AccessEntry& entry) {
  if (!access_logged()) {
    return;
  }
  const double milliseconds =
      std::round(std::chrono::duration<double, std::micro>(entry.duration).count()) / 1000.0;
  const std::string status = std::to_string(entry.status);
  const auto or_dash = [](std::string_view text) {
    return text.empty() ? std::string("-") : std::string(text);
  };
  if (g_format == LogFormat::json) {
    const std::string message = or_dash(entry.method) + " " + or_dash(entry.path) + " " + status;
    write(spdlog::level::info, json_line("info", message,
                                         {{"method", entry.method},
                                          {"path", entry.path},
                                          {"status", entry.status},
                                          {"duration_ms", milliseconds},
                                          {"peer", entry.peer},
                                          {"bytes", entry.bytes}}));
    return;
  }
  const auto secrets = secret_values();
  const auto shown = [&](std::string_view text) { return one_line(scrub(or_dash(text), secrets)); };
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.1f ms", milliseconds);
  write(spdlog::level::info, "promote [" + local_clock() + "] " + shown(entry.peer) + " " +
                                 shown(entry.method) + " " + shown(entry.path) + " " + status +
                                 " " + std::to_string(entry.bytes) + " B " + duration);
}

void capture_log(std::function<void(std::string_view line)> capture) {
  instance().output->set_capture(std::move(capture));
}

}  // namespace promote::util
