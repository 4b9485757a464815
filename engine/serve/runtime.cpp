#include "engine/serve/runtime.hpp"

#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/log.hpp"

namespace promote::serve {

namespace {

// The digests of the files' bytes, one line each ("-" for one that cannot be read).
std::string digest_of(const std::vector<std::filesystem::path>& files) {
  std::string out;
  for (const auto& file : files) {
    auto text = util::read_file(file);
    out += (text ? util::sha256_hex(*text) : std::string("-")) + "\n";
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::start(ServiceOptions service, LoopOptions loop) {
  std::unique_ptr<Runtime> runtime(new Runtime(std::move(service), std::move(loop)));
  const std::string digest = digest_of(runtime->m_options.pipeline_files);
  auto loaded = Service::load(runtime->m_options);
  if (!loaded) {
    return loaded.error();
  }
  runtime->m_state = runtime->make_state(std::move(*loaded), digest, nullptr);
  return runtime;
}

Runtime::~Runtime() {
  stop();
}

std::shared_ptr<Runtime::State> Runtime::make_state(Service loaded, const std::string& digest,
                                                    const Service* previous) {
  auto state = std::make_shared<State>();
  state->digest = digest;
  state->service = std::make_shared<Service>(std::move(loaded));
  Service* service = state->service.get();
  if (previous != nullptr) {
    service->adopt(*previous);
  }
  service->set_on_push([this] {
    {
      std::lock_guard lock(m_mutex);
      m_poke = true;
    }
    m_poked.notify_all();
  });
  LoopOptions options = m_loop;
  options.on_evaluated = [service](const std::string& name) { service->changed(name); };
  options.on_gate_timed = [service](const std::string& use, double seconds) {
    service->gate_timed(use, seconds);
  };
  state->loop = std::make_unique<Loop>(*service, options);
  service->set_loop(state->loop.get());
  // What the API and the pages show is kept up to date beside the requests, never in them.
  service->board().refresh();
  service->board().start();
  if (m_running.load()) {
    state->loop->start();
  }
  return state;
}

std::shared_ptr<Runtime::State> Runtime::current() const {
  std::lock_guard lock(m_mutex);
  return m_state;
}

http::Outgoing Runtime::handle(const http::Incoming& request) const {
  const auto state = current();  // kept alive until the answer is made
  return state->service->handle(request);
}

Result<bool> Runtime::reload() {
  const std::lock_guard reloading(m_reloading);
  const auto old = current();
  if (!old) {
    return false;
  }
  const std::string digest = digest_of(m_options.pipeline_files);
  if (digest == old->digest) {
    return false;
  }
  auto loaded = Service::load(m_options);
  if (!loaded) {
    std::lock_guard lock(m_mutex);
    if (m_failed_digest != digest) {
      m_failed_digest = digest;
      util::notice(
          "serve: the pipeline files changed but do not load; serving them as they "
          "were: " +
          loaded.error().message);
    }
    return loaded.error();
  }
  // The old loop stops first (its running evaluation finishes): never two evaluations at once.
  old->loop->stop();
  auto fresh = make_state(std::move(*loaded), digest, old->service.get());
  old->service->board().stop();
  {
    std::lock_guard lock(m_mutex);
    m_state = std::move(fresh);
    m_failed_digest.clear();
    ++m_reloads;
  }
  util::notice("serve: the pipeline files changed: read again");
  return true;
}

void Runtime::watch(std::chrono::milliseconds every) {
  std::lock_guard lock(m_mutex);
  if (m_watcher.joinable() || m_stopping) {
    return;
  }
  m_running = true;
  m_state->loop->start();
  m_watcher = std::thread([this, every] {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
      m_poked.wait_for(lock, every, [&] { return m_stopping || m_poke; });
      if (m_stopping) {
        break;
      }
      m_poke = false;
      lock.unlock();
      (void)reload();  // a failure is logged; the running service goes on
      lock.lock();
    }
  });
}

void Runtime::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_poked.notify_all();
  if (m_watcher.joinable()) {
    m_watcher.join();
  }
  if (const auto state = current()) {
    state->loop->stop();
    state->service->board().stop();
  }
}

std::shared_ptr<Service> Runtime::service() const {
  return current()->service;
}

std::size_t Runtime::auto_stages() const {
  return current()->loop->runs().size();
}

std::size_t Runtime::reloads() const {
  std::lock_guard lock(m_mutex);
  return m_reloads;
}

}  // namespace promote::serve
