#include "engine/scheduler/scheduler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <random>

#include "engine/pipeline/config_node.hpp"
#include "engine/scheduler/blocking.hpp"
#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"

namespace promote::scheduler {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// Worker threads for blocking gate work. Never destroyed: work abandoned after a
// timeout must not hold up the process at exit.
asio::thread_pool& worker_pool() {
  static auto* pool = new asio::thread_pool(2);
  return *pool;
}

// Completes `handler` once, on its own executor, whichever of the work and the
// cancellation comes first. Holds work on that executor until then, so its event
// loop does not run dry while the worker thread computes.
template <class Handler>
struct BlockingOperation : std::enable_shared_from_this<BlockingOperation<Handler>> {
  explicit BlockingOperation(Handler h)
      : handler(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(handler))) {}
  void complete(bool finished) {
    if (completed.exchange(true)) {
      return;
    }
    asio::post(work.get_executor(), [self = this->shared_from_this(), finished]() mutable {
      std::move(self->handler)(finished);
      self->work.reset();
    });
  }
  Handler handler;
  asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
  std::atomic<bool> completed{false};
};

// A gate's evaluation with its exceptions turned into an `error` verdict. The race
// against the deadline below waits for the first *successful* branch, so a gate
// must not end it by throwing.
asio::awaitable<Verdict> guarded(Gate& gate, const GateContext& context) {
  std::string failure;
  try {
    co_return co_await gate.evaluate(context);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  co_return Verdict::make(Verdict::Status::error, "gate failed: " + failure);
}

// One evaluation of a stage's gates; lives on one io_context thread, so its state
// needs no locks.
class Evaluation {
 public:
  Evaluation(const std::vector<pipeline::GateSpec>& gates, const GateContext& context,
             const Options& options)
      : m_gates(gates), m_context(context), m_options(options), m_verdicts(gates.size()),
        m_signals(gates.size()), m_running(gates.size(), false), m_cancelled(gates.size(), false) {}

  std::vector<Verdict> run() {
    std::size_t workers = m_gates.size();
    if (m_options.max_concurrency > 0) {
      workers = std::min(workers, m_options.max_concurrency);
    }
    for (std::size_t i = 0; i < workers; ++i) {
      asio::co_spawn(m_io, worker(), asio::detached);
    }
    m_io.run();
    return std::move(m_verdicts);
  }

 private:
  asio::awaitable<void> worker() {
    while (m_next < m_gates.size()) {
      const std::size_t index = m_next++;
      if (m_decided_by) {
        m_verdicts[index] = stopped("not evaluated", *m_decided_by);
        continue;
      }
      if (!m_gates[index].gate) {
        m_verdicts[index] = Verdict::make(Verdict::Status::error, "gate was not configured");
        continue;
      }
      m_running[index] = true;
      co_await asio::co_spawn(
          m_io, evaluate_gate(index),
          asio::bind_cancellation_slot(m_signals[index].slot(),
                                       asio::as_tuple(asio::use_awaitable)));
      m_running[index] = false;
      const Verdict& verdict = m_verdicts[index];
      if (m_options.fail_fast && !m_decided_by && verdict.status == Verdict::Status::fail) {
        decide(index);
      }
    }
  }

  // Cancels every gate still running: the stage is blocked by gate `index`.
  void decide(std::size_t index) {
    m_decided_by = m_gates[index].name;
    for (std::size_t other = 0; other < m_gates.size(); ++other) {
      if (m_running[other]) {
        m_cancelled[other] = true;
        m_signals[other].emit(asio::cancellation_type::terminal);
      }
    }
  }

  asio::awaitable<void> evaluate_gate(std::size_t index) {
    const pipeline::GateSpec& spec = m_gates[index];
    auto executor = co_await asio::this_coro::executor;
    const auto started = std::chrono::steady_clock::now();
    Verdict verdict;
    int attempt = 0;
    for (;; ++attempt) {
      asio::steady_timer deadline(executor, spec.timeout);
      auto raced = co_await (guarded(*spec.gate, m_context) ||
                             deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (raced.index() == 0) {
        verdict = std::move(std::get<0>(raced));
        // A gate that judged before the cancellation reached it keeps its judgement.
        if (m_cancelled[index] && verdict.status != Verdict::Status::error) {
          m_cancelled[index] = false;
          break;
        }
      }
      if (m_cancelled[index]) {
        break;
      }
      if (raced.index() == 1) {
        verdict = Verdict::make(Verdict::Status::error,
                                "timed out after " + pipeline::format_duration(spec.timeout),
                                {{"timeout_seconds", spec.timeout.count()}});
      }
      if (verdict.status != Verdict::Status::error || attempt >= spec.retries) {
        break;
      }
      asio::steady_timer backoff(executor, backoff_for(attempt));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      if (m_cancelled[index]) {
        break;
      }
    }
    if (m_cancelled[index]) {
      verdict = stopped("cancelled", *m_decided_by);
    } else if (spec.retries > 0) {
      if (!verdict.details.is_object()) {
        verdict.details = nlohmann::json::object();
      }
      verdict.details["attempts"] = attempt + 1;
    }
    // Whatever a gate quotes (a program's stderr, a server's body) reaches the reports,
    // the history and JSON output as valid UTF-8.
    verdict.summary = util::valid_utf8(verdict.summary);
    verdict.details = util::valid_utf8(verdict.details);
    // ... and with no secret promote or the gate reads (what a server or program echoed).
    const auto secrets = util::secret_values(util::secret_variables_of(spec.gate->config()));
    verdict.summary = util::scrub(std::move(verdict.summary), secrets);
    util::scrub_json(verdict.details, secrets);
    verdict.took = std::chrono::steady_clock::now() - started;
    m_verdicts[index] = std::move(verdict);
  }

  std::chrono::milliseconds backoff_for(int attempt) {
    const std::chrono::milliseconds cap(30'000);
    const std::chrono::milliseconds full =
        std::min<std::chrono::milliseconds>(m_options.retry_backoff * (1LL << std::min(attempt, 16)), cap);
    std::uniform_int_distribution<long long> jitter(full.count() / 2, full.count());
    return std::chrono::milliseconds(jitter(m_random));
  }

  const std::vector<pipeline::GateSpec>& m_gates;
  const GateContext& m_context;
  Options m_options;
  asio::io_context m_io;
  std::vector<Verdict> m_verdicts;
  std::vector<asio::cancellation_signal> m_signals;
  std::vector<bool> m_running;
  std::vector<bool> m_cancelled;
  std::size_t m_next = 0;
  std::optional<std::string> m_decided_by;
  std::mt19937_64 m_random{std::random_device{}()};
};

}  // namespace

Verdict stopped(const std::string& what, const std::string& decider) {
  return Verdict::make(Verdict::Status::error,
                       what + ": the stage is already blocked by '" + decider + "'",
                       {{"stopped_by", decider}});
}

namespace detail {

asio::awaitable<bool> run_on_pool(std::function<void()> work) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      [](auto handler, std::function<void()> job) {
        using Operation = BlockingOperation<decltype(handler)>;
        auto operation = std::make_shared<Operation>(std::move(handler));
        auto slot = asio::get_associated_cancellation_slot(operation->handler);
        if (slot.is_connected()) {
          slot.assign([operation](asio::cancellation_type) { operation->complete(false); });
        }
        asio::post(worker_pool(), [operation, job = std::move(job)] {
          job();
          operation->complete(true);
        });
      },
      asio::use_awaitable, std::move(work));
}

}  // namespace detail

Options options_for(const pipeline::Stage& stage) {
  Options options;
  options.fail_fast = stage.fail_fast;
  options.max_concurrency = stage.max_concurrency;
  return options;
}

std::vector<Verdict> evaluate(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context, const Options& options) {
  return Evaluation(gates, context, options).run();
}

}  // namespace promote::scheduler
