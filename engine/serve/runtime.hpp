#pragma once
// What `promote serve` runs: the service (its pipelines, API and pages) and the loop promoting
// their `auto` stages, made again from the pipeline files when their bytes change (a push
// arrived, someone edited one): a new service and loop replace the old ones once the old
// loop's running evaluation finished, keeping the webhook deliveries seen, the dashboard's
// sessions and the gate timings. Requests being answered finish on the service they began on.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/serve/loop.hpp"
#include "engine/serve/service.hpp"

namespace promote::serve {

class Runtime {
 public:
  /// Loads the pipelines of `service` and starts their board; their loop starts with `watch`.
  /// Fails as Service::load.
  static Result<std::unique_ptr<Runtime>> start(ServiceOptions service, LoopOptions loop);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Answers `request` with the current service.
  http::Outgoing handle(const http::Incoming& request) const;

  /// Reads the pipeline files again if their bytes changed since they were loaded; true when a
  /// new service and loop replaced the old ones. Files that no longer load leave the running
  /// ones in place: the error (config) names every problem, and is logged once.
  Result<bool> reload();
  /// Starts the loop, and from now on calls `reload` every `every` and as soon as a push
  /// webhook arrives, on a thread of its own.
  void watch(std::chrono::milliseconds every = std::chrono::seconds(2));
  /// Stops watching, then the loop (its running evaluation finishes) and the board.
  void stop();

  /// The current service and loop.
  std::shared_ptr<Service> service() const;
  std::size_t auto_stages() const;
  /// How many times the pipelines were loaded again.
  std::size_t reloads() const;

 private:
  struct State {
    std::shared_ptr<Service> service;
    std::unique_ptr<Loop> loop;  ///< after `service`: destroyed first
    std::string digest;          ///< of the pipeline files' bytes when loaded
  };
  Runtime(ServiceOptions service, LoopOptions loop)
      : m_options(std::move(service)), m_loop(std::move(loop)) {}
  /// Starts the loop and board of `loaded` (taking over what `previous` remembers, when given).
  std::shared_ptr<State> make_state(Service loaded, const std::string& digest,
                                    const Service* previous);
  std::shared_ptr<State> current() const;

  ServiceOptions m_options;
  LoopOptions m_loop;
  mutable std::mutex m_mutex;
  std::condition_variable m_poked;
  std::shared_ptr<State> m_state;  ///< under m_mutex
  std::string m_failed_digest;     ///< under m_mutex: the files that did not load, told once
  std::size_t m_reloads = 0;       ///< under m_mutex
  bool m_poke = false;             ///< under m_mutex
  bool m_stopping = false;         ///< under m_mutex
  std::mutex m_reloading;          ///< one reload at a time
  std::thread m_watcher;
  std::atomic<bool> m_running = false;  ///< watch() was called: loops start as they are made
};

}  // namespace promote::serve
