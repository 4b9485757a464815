#pragma once
// What `promote serve` shows of each pipeline, kept ready between requests: every stage with
// the candidate it holds and since when (the engine of `promote status`), its gates as
// configured and their last verdicts, its hold, and what the loop knows of it. A pipeline's
// document is computed again only when something it is read from changed: the pipeline file,
// the history database, the repository's HEAD, index and refs, a stage's target files (a few
// stat calls per request tell), or when the loop or a command says so; and at least every 30 s
// for what no file shows (a remote repository). Reads between changes cost a lookup, and the
// dashboard's live updates wait on the board's version.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.hpp"

namespace promote::serve {

struct Watched;
class Loop;

/// A pipeline's document (schemas/serve-pipeline.schema.json, "stages" as in `promote status
/// --json` plus "gates", "verify", "auto", "hold" and "last" per stage), or why it could not be
/// computed.
struct Snapshot {
  nlohmann::json document;
  std::optional<Error> error;  ///< the repository or history could not be read
  std::string body;            ///< `document` as the API sends it (indented, a final newline)
};

class Board {
 public:
  /// The board of `pipelines` (whose elements must outlive it: moving the vector keeps them), with
  /// their history at `history_path` (nullopt: each pipeline's default).
  Board(const std::vector<Watched>& pipelines, std::optional<std::filesystem::path> history_path);
  ~Board();
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  /// The loop whose state the documents show (may be null).
  void set_loop(const Loop* loop) { m_loop.store(loop); }

  /// Keeps the documents up to date on a thread of its own from now on (the service does;
  /// tests may not): every second it computes again those that are stale, and a read no longer
  /// waits for a change seen by its files, only for one it was told of (`changed`).
  void start();
  /// Stops that thread (also on destruction).
  void stop();

  /// The document of the `index`th pipeline. Without the thread, computed again first when it
  /// is stale; with it, as the thread last computed it (at most about a second behind a change
  /// of its files), unless `changed` was called since: then computed first.
  std::shared_ptr<const Snapshot> snapshot(std::size_t index);
  /// Marks pipeline `name` changed (the loop evaluated it, a command ran on it): the next read
  /// computes it again, and the version moves if it differs.
  void changed(const std::string& name);
  /// Brings every stale pipeline's document up to date (the thread does, when it runs); returns
  /// the version after it.
  std::uint64_t refresh();
  /// Moves whenever a pipeline's document changes (starts at 1).
  std::uint64_t version() const;
  /// Waits until the version moves past `seen`, `changed` is called, or `timeout` passes;
  /// returns the version then.
  std::uint64_t wait(std::uint64_t seen, std::chrono::milliseconds timeout);
  /// Wakes every `wait` (the service stops).
  void wake();
  /// Whether stop() was called: the board was replaced (runtime.hpp) or the service stops.
  bool stopped() const;
  /// Tells this board from the others of the process (a runtime replaces its board when the
  /// pipeline files change): a page's event stream names it in its event ids.
  std::uint64_t instance() const { return m_instance; }

 private:
  struct Slot;
  std::shared_ptr<const Snapshot> compute(std::size_t index, Slot& slot);

  std::vector<const Watched*> m_pipelines;
  std::optional<std::filesystem::path> m_history_path;
  std::atomic<const Loop*> m_loop = nullptr;
  std::vector<std::unique_ptr<Slot>> m_slots;
  mutable std::mutex m_mutex;
  std::condition_variable m_moved;
  std::uint64_t m_version = 1;  ///< under m_mutex
  std::uint64_t m_pokes = 0;    ///< under m_mutex: calls of changed() and wake()
  bool m_stopping = false;      ///< under m_mutex
  std::atomic<bool> m_running = false;
  std::uint64_t m_instance;
  std::thread m_thread;
};

}  // namespace promote::serve
