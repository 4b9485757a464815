#pragma once
// The continuous promotion of `promote serve`: every `auto: true` stage of the pipelines it
// watches is promoted as soon as its gates pass. A stage is evaluated again when a pending gate
// says (the end of a soak, the opening of a window: its retry_after), else every `interval` of
// its pipeline, or at once when something triggers its pipeline (a webhook, a push). No busy
// polling: the loop sleeps until the next stage is due. One thread evaluates one stage at a time,
// with the engine of `promote --to STAGE`, so its commits, records and locks are the CLI's, and
// CLI runs in the same repository interleave safely.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/promoter/promotion.hpp"
#include "engine/serve/service.hpp"

namespace promote::serve {

/// One gate's verdict in the loop's last evaluation of a stage.
struct GateState {
  std::string name;
  std::string status;  ///< pass|warn|fail|pending|error
  std::string summary;
  /// A pending gate: when it is looked at again (its retry_after from the evaluation's end).
  std::optional<std::chrono::system_clock::time_point> retry_at;
};

/// What the loop knows of one `auto` stage.
struct StageRun {
  std::string pipeline;
  std::string stage;
  std::chrono::system_clock::time_point next;                 ///< when it is evaluated next
  std::optional<std::chrono::system_clock::time_point> last;  ///< its last evaluation
  std::string outcome;           ///< of the last evaluation ("" before the first)
  std::string summary;           ///< why: the first gate that held it up, or the error
  std::vector<GateState> gates;  ///< the last evaluation's verdicts, in the stage's order
  std::size_t evaluations = 0;
  std::size_t recorded = 0;  ///< evaluations recorded in the history
};

struct LoopOptions {
  std::optional<std::filesystem::path> history_path;
  std::string actor = "promote-serve";
  /// Runs one promotion; default: promoter::promote with the pipeline's gate catalog.
  std::function<Result<promoter::PromotionResult>(const promoter::Request&)> promote = {};
  /// Told, on the loop's thread, after each evaluation or promotion asked through the API, the
  /// name of the pipeline whose state it may have changed; may be empty.
  std::function<void(const std::string& pipeline)> on_evaluated = {};
  /// Told each gate's evaluation time after an evaluation (the gate's use, seconds); may be
  /// empty.
  std::function<void(const std::string& use, double seconds)> on_gate_timed = {};
};

class Loop {
 public:
  /// The `auto` stages of `service`'s pipelines: those with a source stage each due at once, the
  /// first stages only when an image is offered (offer_image).
  Loop(const Service& service, LoopOptions options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// Starts the loop's thread.
  void start();
  /// Stops it: no evaluation starts after this; the one running finishes first (a promotion is
  /// never cut in the middle). Returns once the thread ended. Safe to call more than once.
  void stop();
  /// Evaluates the `auto` stages of pipeline `name` as soon as the one running (if any) ends;
  /// false when it has none.
  bool trigger(const std::string& name);
  /// Offers `image` ("NAME=REFERENCE", as --image takes it) to the `auto` first stage `stage`
  /// of pipeline `name`: promoted with it (through its gates) before any stage due; false when
  /// there is no such stage.
  bool offer_image(const std::string& name, const std::string& stage, const std::string& image);
  /// Runs `request` (a promotion or a rollback asked through the API) on the loop's thread, before
  /// any stage due and after the evaluation running: one evaluation at a time, whoever asks. The
  /// future gives its result; an error (usage) when the loop stops before it ran.
  std::shared_future<Result<promoter::PromotionResult>> submit(promoter::Request request);
  /// The `auto` stages, in pipeline order.
  std::vector<StageRun> runs() const;
  /// How many evaluations and promotions asked through the API have finished in pipeline
  /// `name`: it moves whenever what the loop shows of the pipeline may have changed.
  std::size_t evaluations(const std::string& name) const;
  /// Waits until `count` evaluations in all have finished, or `timeout` passed; whether they did.
  bool wait_for_evaluations(std::size_t count, std::chrono::milliseconds timeout) const;

 private:
  struct Entry {
    const Watched* watched;
    StageRun run;
    bool triggered = false;  ///< under m_mutex: asked to look again while it was evaluated
  };
  struct Offer {
    std::size_t entry;
    std::string image;
  };
  struct Job {
    promoter::Request request;
    std::promise<Result<promoter::PromotionResult>> result;
  };
  void work();
  void evaluate(Entry& entry, const std::string& image);
  void time_gates(const promoter::PromotionResult& result) const;
  /// Counts an evaluation that ended in `pipeline` ("" when not known) and tells of it; `lock`
  /// holds m_mutex.
  void finished(std::unique_lock<std::mutex>& lock, const std::string& pipeline);

  LoopOptions m_options;
  std::map<std::filesystem::path, std::string> m_names;  ///< pipeline file -> its name
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  std::vector<Entry> m_entries;               ///< under m_mutex
  std::deque<Offer> m_offers;                 ///< under m_mutex, oldest first
  std::deque<Job> m_jobs;                     ///< under m_mutex, oldest first
  std::size_t m_evaluations = 0;              ///< under m_mutex
  std::map<std::string, std::size_t> m_done;  ///< under m_mutex: evaluations by pipeline
  bool m_stopping = false;                    ///< under m_mutex
  std::mutex m_join_mutex;
  std::thread m_thread;
};

/// When a stage whose attempt ended as `result` should be evaluated again, from `now`: at the
/// earliest retry_after of its pending gates (one without it: `interval`), at least a second
/// from now; `interval` for every other outcome.
std::chrono::system_clock::time_point next_evaluation(const promoter::PromotionResult& result,
                                                      std::chrono::seconds interval,
                                                      std::chrono::system_clock::time_point now);

}  // namespace promote::serve
