#include "engine/serve/loop.hpp"

#include <algorithm>

#include "engine/util/log.hpp"
#include "gates/registry.hpp"

namespace promote::serve {

using Clock = std::chrono::system_clock;

Clock::time_point next_evaluation(const promoter::PromotionResult& result,
                                  std::chrono::seconds interval, Clock::time_point now) {
  if (result.outcome != promoter::Outcome::pending) {
    return now + interval;
  }
  // A soak of an hour is looked at again in an hour; a gate that names no time, every interval.
  std::optional<std::chrono::seconds> wait;
  for (const auto& gate : result.gates) {
    if (gate.verdict.status == Verdict::Status::pending) {
      const auto after = gate.verdict.retry_after.value_or(interval);
      wait = wait ? std::min(*wait, after) : after;
    }
  }
  return now + std::max(wait.value_or(interval), std::chrono::seconds(1));
}

Loop::Loop(const Service& service, LoopOptions options) : m_options(std::move(options)) {
  if (!m_options.promote) {
    m_options.promote = [](const promoter::Request& request) {
      return promoter::promote(request, gates::Catalog::for_pipeline(request.pipeline_file));
    };
  }
  const auto now = Clock::now();
  for (const auto& watched : service.pipelines()) {
    m_names.emplace(watched.file, watched.pipeline.name);
    for (const auto& stage : watched.pipeline.stages) {
      if (stage.automatic) {
        StageRun run;
        run.pipeline = watched.pipeline.name;
        run.stage = stage.name;
        // A first stage has nothing to take until an image is offered.
        run.next = stage.from ? now : Clock::time_point::max();
        m_entries.push_back(Entry{&watched, std::move(run), false});
      }
    }
  }
}

void Loop::time_gates(const promoter::PromotionResult& result) const {
  if (!m_options.on_gate_timed) {
    return;
  }
  for (const auto& gate : result.gates) {
    if (gate.verdict.took) {
      m_options.on_gate_timed(gate.use, gate.verdict.took->count());
    }
  }
}

Loop::~Loop() {
  stop();
}

void Loop::start() {
  std::lock_guard lock(m_mutex);
  if (!m_thread.joinable() && !m_stopping) {
    m_thread = std::thread([this] { work(); });
  }
}

void Loop::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    // Asked but not begun: never run.
    for (auto& job : m_jobs) {
      job.result.set_value(make_error(ErrorKind::usage, "the service is stopping"));
    }
    m_jobs.clear();
  }
  m_changed.notify_all();
  const std::lock_guard joining(m_join_mutex);  // stop() may come from two threads at once
  if (m_thread.joinable() && m_thread.get_id() != std::this_thread::get_id()) {
    m_thread.join();
  }
}

bool Loop::trigger(const std::string& name) {
  bool any = false;
  {
    std::lock_guard lock(m_mutex);
    const auto now = Clock::now();
    for (auto& entry : m_entries) {
      if (entry.run.pipeline == name && entry.run.next != Clock::time_point::max()) {
        entry.run.next = now;
        entry.triggered = true;  // also when it is being evaluated: then again after
        any = true;
      }
    }
  }
  m_changed.notify_all();
  return any;
}

bool Loop::offer_image(const std::string& name, const std::string& stage,
                       const std::string& image) {
  {
    std::lock_guard lock(m_mutex);
    const auto found = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& entry) {
      return entry.run.pipeline == name && entry.run.stage == stage;
    });
    if (found == m_entries.end()) {
      return false;
    }
    m_offers.push_back(Offer{static_cast<std::size_t>(found - m_entries.begin()), image});
  }
  m_changed.notify_all();
  return true;
}

std::shared_future<Result<promoter::PromotionResult>> Loop::submit(promoter::Request request) {
  std::shared_future<Result<promoter::PromotionResult>> result;
  {
    std::lock_guard lock(m_mutex);
    Job& job = m_jobs.emplace_back(Job{std::move(request), {}});
    result = job.result.get_future().share();
    if (m_stopping) {
      job.result.set_value(make_error(ErrorKind::usage, "the service is stopping"));
      m_jobs.pop_back();
    }
  }
  m_changed.notify_all();
  return result;
}

std::vector<StageRun> Loop::runs() const {
  std::lock_guard lock(m_mutex);
  std::vector<StageRun> out;
  for (const auto& entry : m_entries) {
    out.push_back(entry.run);
  }
  return out;
}

std::size_t Loop::evaluations(const std::string& name) const {
  std::lock_guard lock(m_mutex);
  const auto found = m_done.find(name);
  return found == m_done.end() ? 0 : found->second;
}

void Loop::finished(std::unique_lock<std::mutex>& lock, const std::string& pipeline) {
  ++m_evaluations;
  if (!pipeline.empty()) {
    ++m_done[pipeline];
    if (m_options.on_evaluated) {
      lock.unlock();  // the callback may read the loop's state
      m_options.on_evaluated(pipeline);
      lock.lock();
    }
  }
  m_changed.notify_all();
}

bool Loop::wait_for_evaluations(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] { return m_evaluations >= count; });
}

void Loop::work() {
  std::unique_lock lock(m_mutex);
  while (!m_stopping) {
    // What was asked through the API first, then an image offered, else the stage due first
    // (the first in pipeline order when several are).
    if (!m_jobs.empty()) {
      Job job = std::move(m_jobs.front());
      m_jobs.pop_front();
      lock.unlock();
      auto result = m_options.promote(job.request);
      if (result) {
        time_gates(*result);
      }
      job.result.set_value(std::move(result));
      const auto name = m_names.find(job.request.pipeline_file);
      lock.lock();
      finished(lock, name == m_names.end() ? std::string() : name->second);
      continue;
    }
    if (m_entries.empty()) {
      m_changed.wait(lock, [&] { return m_stopping || !m_jobs.empty(); });
      continue;
    }
    std::string image;
    Entry* chosen = nullptr;
    if (!m_offers.empty()) {
      chosen = &m_entries[m_offers.front().entry];
      image = std::move(m_offers.front().image);
      m_offers.pop_front();
    } else {
      auto due =
          std::min_element(m_entries.begin(), m_entries.end(),
                           [](const Entry& a, const Entry& b) { return a.run.next < b.run.next; });
      if (due->run.next > Clock::now()) {
        if (due->run.next == Clock::time_point::max()) {
          m_changed.wait(lock);
        } else {
          m_changed.wait_until(lock, due->run.next);
        }
        continue;  // woken: stopped, triggered, offered, or due now
      }
      chosen = &*due;
    }
    Entry& entry = *chosen;
    entry.triggered = false;
    lock.unlock();
    evaluate(entry, image);
    lock.lock();
    finished(lock, entry.run.pipeline);
  }
}

void Loop::evaluate(Entry& entry, const std::string& image) {
  promoter::Request request;
  request.pipeline_file = entry.watched->file;
  request.stage = entry.run.stage;
  if (!image.empty()) {
    request.images = {image};
  }
  request.history_path = m_options.history_path;
  request.workdir = entry.watched->workdir;
  request.actor = m_options.actor;
  request.reason = "auto: true";
  // What changed nothing is recorded only when it differs from the last evaluation: the same
  // outcome, the same gates saying the same.
  std::vector<std::pair<std::string, std::string>> last_gates;
  std::string last_outcome;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& gate : entry.run.gates) {
      last_gates.emplace_back(gate.name, gate.status);
    }
    last_outcome = entry.run.outcome;
  }
  bool recorded = true;
  request.record_unchanged = [&](const promoter::PromotionResult& result) {
    std::vector<std::pair<std::string, std::string>> now;
    for (const auto& gate : result.gates) {
      now.emplace_back(gate.name, to_string(gate.verdict.status));
    }
    recorded = to_string(result.outcome) != last_outcome || now != last_gates;
    return recorded;
  };
  const auto started = Clock::now();
  auto result = m_options.promote(request);
  const auto now = Clock::now();
  std::lock_guard lock(m_mutex);
  StageRun& run = entry.run;
  run.last = started;
  ++run.evaluations;
  if (!result) {
    run.outcome = "error";
    run.summary = result.error().message;
    run.gates.clear();
    if (run.next != Clock::time_point::max()) {
      run.next = entry.triggered ? now : now + entry.watched->pipeline.interval;
    }
    util::notice("serve: " + run.pipeline + "/" + run.stage + ": " + run.summary);
    return;
  }
  run.recorded += recorded ? 1 : 0;
  run.outcome = to_string(result->outcome);
  run.gates.clear();
  run.summary = result->error ? result->error->message : "";
  for (const auto& gate : result->gates) {
    const Verdict& verdict = gate.verdict;
    if (run.summary.empty() && !passes(verdict.status)) {
      run.summary = gate.name + ": " + verdict.summary;
    }
    std::optional<Clock::time_point> retry_at;
    if (verdict.status == Verdict::Status::pending && verdict.retry_after) {
      retry_at = now + *verdict.retry_after;
    }
    run.gates.push_back(GateState{gate.name, to_string(verdict.status), verdict.summary, retry_at});
  }
  time_gates(*result);
  if (run.next != Clock::time_point::max()) {  // a first stage waits for the next image
    // Something asked to look again meanwhile (a webhook): what it announced may be newer than
    // what this evaluation saw.
    run.next =
        entry.triggered ? now : next_evaluation(*result, entry.watched->pipeline.interval, now);
  }
  util::debug("serve: " + run.pipeline + "/" + run.stage + ": " + run.outcome +
              (run.summary.empty() ? "" : " (" + run.summary + ")"));
}

}  // namespace promote::serve
