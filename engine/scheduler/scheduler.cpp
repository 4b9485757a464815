#include "engine/scheduler/scheduler.hpp"

#include <boost/asio/as_tuple.hpp>
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

#include "engine/pipeline/config_node.hpp"
#include "engine/scheduler/blocking.hpp"

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

asio::awaitable<void> evaluate_one(const pipeline::GateSpec& spec, const GateContext& context,
                                   Verdict& out) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, spec.timeout);
  auto raced = co_await (guarded(*spec.gate, context) ||
                         deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (raced.index() == 0) {
    out = std::move(std::get<0>(raced));
  } else {
    out = Verdict::make(Verdict::Status::error,
                        "timed out after " + pipeline::format_duration(spec.timeout),
                        {{"timeout_seconds", spec.timeout.count()}});
  }
}

}  // namespace

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

std::vector<Verdict> evaluate(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context) {
  std::vector<Verdict> verdicts(gates.size());
  asio::io_context io;
  for (std::size_t i = 0; i < gates.size(); ++i) {
    if (!gates[i].gate) {
      verdicts[i] = Verdict::make(Verdict::Status::error, "gate was not configured");
      continue;
    }
    asio::co_spawn(io, evaluate_one(gates[i], context, verdicts[i]), asio::detached);
  }
  io.run();
  return verdicts;
}

}  // namespace promote::scheduler
