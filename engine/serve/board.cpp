#include "engine/serve/board.hpp"

#include <sys/stat.h>

#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/status.hpp"
#include "engine/report/tables.hpp"
#include "engine/serve/loop.hpp"
#include "engine/serve/service.hpp"

namespace promote::serve {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

// A document older than this is computed again even when no file it reads changed.
constexpr std::chrono::seconds k_max_age{30};

// What stat says of a file (all zero when it is absent): it changed when this did.
struct Stamp {
  long long inode = 0;
  long long size = 0;
  long long modified_ns = 0;
  bool operator==(const Stamp&) const = default;
};

Stamp stamp_of(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return {};
  }
  return Stamp{static_cast<long long>(info.st_ino), static_cast<long long>(info.st_size),
               static_cast<long long>(info.st_mtim.tv_sec) * 1'000'000'000LL +
                   static_cast<long long>(info.st_mtim.tv_nsec)};
}

// The files whose change may change what the board shows of `watched`.
std::vector<fs::path> watched_files(const Watched& watched, const fs::path& history) {
  std::vector<fs::path> out = {watched.file, history, history.string() + "-wal"};
  auto repository = git::Repository::open(fs::absolute(watched.file).parent_path());
  if (!repository) {
    return out;  // no repository: status says why, and the age bounds the rest
  }
  const fs::path git_dir = repository->git_dir();
  // A commit, a checkout or a reset moves HEAD's reflog; a fetch or a push moves refs.
  for (const char* name :
       {"HEAD", "index", "logs/HEAD", "packed-refs", "refs/heads", "refs/notes", "FETCH_HEAD"}) {
    out.push_back(git_dir / name);
  }
  const fs::path root = repository->workdir();
  for (const auto& stage : watched.pipeline.stages) {
    for (const auto& path : stage.target.paths()) {
      out.push_back(root / path);
      // An overlay: its kustomization (what the files it names say is bounded by the age).
      for (const char* name : {"kustomization.yaml", "kustomization.yml", "Kustomization"}) {
        out.push_back(root / path / name);
      }
    }
  }
  return out;
}

json gate_state_json(const std::string& name, const std::string& status, const std::string& summary,
                     std::optional<Clock::time_point> retry_at) {
  return {{"name", name},
          {"status", status},
          {"summary", summary},
          {"retry_at", retry_at ? json(history::format_time(*retry_at)) : json()}};
}

// The stage's last attempt in the history (not a verification event), or null.
json last_attempt(const history::History& store, const history::PipelineId& id,
                  const std::string& stage) {
  history::Query query;
  query.pipeline = id;
  query.stage = stage;
  query.limit = 4;
  auto found = store.list(query);
  if (!found) {
    return nullptr;
  }
  for (const auto& record : *found) {
    if (record.outcome == "verified") {
      continue;
    }
    json gates = json::array();
    for (const auto& gate : record.gates) {
      std::optional<Clock::time_point> retry_at;
      if (gate.status == "pending" && gate.retry_after_seconds) {
        retry_at = record.finished + std::chrono::seconds(*gate.retry_after_seconds);
      }
      gates.push_back(gate_state_json(gate.name, gate.status, gate.summary, retry_at));
    }
    return {{"id", record.id},
            {"outcome", record.outcome},
            {"candidate_id", record.candidate_id},
            {"actor", record.actor},
            {"finished", history::format_time(record.finished)},
            {"error", record.error},
            {"gates", std::move(gates)}};
  }
  return nullptr;
}

// The document of one pipeline, as the API's /api/v1/pipelines/NAME answers it.
Snapshot document_of(const Watched& watched, const std::optional<fs::path>& history_path,
                     const Loop* loop) {
  auto stages = promoter::status(watched.pipeline, history_path, watched.workdir);
  if (!stages) {
    return Snapshot{json(), stages.error(), ""};
  }
  json out = report::status_json(watched.pipeline.name, *stages);
  out["file"] = watched.file.string();
  auto store =
      history::History::open_existing(promoter::history_path(watched.pipeline.file, history_path));
  if (!store) {
    return Snapshot{json(), store.error(), ""};
  }
  const history::PipelineId id = promoter::pipeline_identity(watched.pipeline);
  for (std::size_t i = 0; i < watched.pipeline.stages.size() && i < out["stages"].size(); ++i) {
    const pipeline::Stage& stage = watched.pipeline.stages[i];
    json& row = out["stages"][i];
    // Each stage's gates as configured, for a person deciding what to wait for.
    for (const auto& [key, specs] :
         {std::pair{"gates", &stage.gates}, std::pair{"verify", &stage.verify}}) {
      json gates = json::array();
      for (const auto& spec : *specs) {
        gates.push_back({{"name", spec.name},
                         {"use", spec.use},
                         {"config", spec.gate ? spec.gate->config() : json()}});
      }
      row[key] = std::move(gates);
    }
    row["auto"] = nullptr;
    row["hold"] = nullptr;
    row["last"] = nullptr;
    if (*store) {
      if (auto hold = (*store)->hold(id, stage.name); hold && *hold) {
        row["hold"] = {{"actor", (*hold)->actor},
                       {"reason", (*hold)->reason},
                       {"at", history::format_time((*hold)->at)}};
      }
      row["last"] = last_attempt(**store, id, stage.name);
    }
  }
  // What the loop knows of each `auto` stage: its last evaluation and when it looks again.
  if (loop != nullptr) {
    for (const StageRun& run : loop->runs()) {
      if (run.pipeline != watched.pipeline.name) {
        continue;
      }
      for (auto& stage : out["stages"]) {
        if (stage["name"] != run.stage) {
          continue;
        }
        json gates = json::array();
        for (const auto& gate : run.gates) {
          gates.push_back(gate_state_json(gate.name, gate.status, gate.summary, gate.retry_at));
        }
        const bool waits_for_image = run.next == Clock::time_point::max();
        stage["auto"] = {{"next", waits_for_image ? json() : json(history::format_time(run.next))},
                         {"last", run.last ? json(history::format_time(*run.last)) : json()},
                         {"outcome", run.outcome.empty() ? json() : json(run.outcome)},
                         {"summary", run.summary},
                         {"gates", std::move(gates)},
                         {"evaluations", run.evaluations}};
      }
    }
  }
  std::string body = json_text(out);
  return Snapshot{std::move(out), std::nullopt, std::move(body)};
}

}  // namespace

struct Board::Slot {
  std::vector<fs::path> files;
  std::mutex mutex;  ///< held while the document is computed: one computation at a time
  std::shared_ptr<const Snapshot> snapshot;   ///< under mutex
  std::vector<Stamp> stamps;                  ///< under mutex: of `files` when it was computed
  std::size_t evaluations = 0;                ///< under mutex: the loop's count then
  Clock::time_point computed;                 ///< under mutex
  std::atomic<bool> stale = true;             ///< changed() was called since
  std::mutex published_mutex;                 ///< a short lock: only to copy `published`
  std::shared_ptr<const Snapshot> published;  ///< under published_mutex: `snapshot`'s last value
};

Board::Board(const std::vector<Watched>& pipelines, std::optional<fs::path> history_path)
    : m_history_path(std::move(history_path)) {
  static std::atomic<std::uint64_t> boards = 0;
  m_instance = ++boards;
  for (const auto& watched : pipelines) {
    m_pipelines.push_back(&watched);
    auto slot = std::make_unique<Slot>();
    slot->files =
        watched_files(watched, promoter::history_path(watched.pipeline.file, m_history_path));
    m_slots.push_back(std::move(slot));
  }
}

bool Board::stopped() const {
  std::lock_guard lock(m_mutex);
  return m_stopping;
}

Board::~Board() {
  stop();
}

void Board::start() {
  if (m_running.exchange(true)) {
    return;
  }
  m_thread = std::thread([this] {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
      lock.unlock();
      for (std::size_t i = 0; i < m_slots.size(); ++i) {
        compute(i, *m_slots[i]);
      }
      lock.lock();
      const std::uint64_t pokes = m_pokes;
      m_moved.wait_for(lock, std::chrono::seconds(1),
                       [&] { return m_stopping || m_pokes != pokes; });
    }
  });
}

void Board::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_moved.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

std::shared_ptr<const Snapshot> Board::snapshot(std::size_t index) {
  Slot& slot = *m_slots.at(index);
  if (m_running.load() && !slot.stale.load()) {
    std::lock_guard lock(slot.published_mutex);
    if (slot.published) {
      return slot.published;
    }
  }
  return compute(index, slot);
}

std::shared_ptr<const Snapshot> Board::compute(std::size_t index, Slot& slot) {
  std::vector<Stamp> stamps;
  stamps.reserve(slot.files.size());
  for (const auto& file : slot.files) {
    stamps.push_back(stamp_of(file));
  }
  const Loop* loop = m_loop.load();
  const std::string& name = m_pipelines[index]->pipeline.name;
  const std::size_t evaluations = loop != nullptr ? loop->evaluations(name) : 0;
  std::lock_guard lock(slot.mutex);
  const auto now = Clock::now();
  if (slot.snapshot && !slot.stale.load() && stamps == slot.stamps &&
      evaluations == slot.evaluations && now - slot.computed < k_max_age) {
    return slot.snapshot;
  }
  slot.stale = false;  // a change from here on is seen by the next read
  auto fresh =
      std::make_shared<const Snapshot>(document_of(*m_pipelines[index], m_history_path, loop));
  const bool moved = !slot.snapshot || slot.snapshot->document != fresh->document ||
                     slot.snapshot->error.has_value() != fresh->error.has_value();
  slot.snapshot = std::move(fresh);
  {
    std::lock_guard published(slot.published_mutex);
    slot.published = slot.snapshot;
  }
  slot.stamps = std::move(stamps);
  slot.evaluations = evaluations;
  slot.computed = now;
  if (moved) {
    {
      std::lock_guard board(m_mutex);
      ++m_version;
    }
    m_moved.notify_all();
  }
  return slot.snapshot;
}

void Board::changed(const std::string& name) {
  for (std::size_t i = 0; i < m_pipelines.size(); ++i) {
    if (m_pipelines[i]->pipeline.name == name) {
      m_slots[i]->stale = true;
    }
  }
  wake();
}

void Board::wake() {
  {
    std::lock_guard lock(m_mutex);
    ++m_pokes;
  }
  m_moved.notify_all();
}

std::uint64_t Board::refresh() {
  if (m_running.load()) {
    return version();  // the thread does it
  }
  for (std::size_t i = 0; i < m_slots.size(); ++i) {
    compute(i, *m_slots[i]);
  }
  return version();
}

std::uint64_t Board::version() const {
  std::lock_guard lock(m_mutex);
  return m_version;
}

std::uint64_t Board::wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  const std::uint64_t pokes = m_pokes;
  m_moved.wait_for(lock, timeout, [&] { return m_version != seen || m_pokes != pokes; });
  return m_version;
}

}  // namespace promote::serve
