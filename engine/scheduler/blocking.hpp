#pragma once
// Runs blocking work (parsing a large report, hashing files) off the event loop, so
// that a gate's timeout and cancellation still take effect while it runs.

#include <boost/asio/awaitable.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace promote::scheduler {

namespace detail {
/// Posts `work` to the shared worker pool and completes when it finishes (true) or
/// when the awaiting coroutine is cancelled (false); after a cancellation the work
/// still runs to its end, and its effects are dropped.
boost::asio::awaitable<bool> run_on_pool(std::function<void()> work);
}  // namespace detail

/// Thrown into a coroutine whose blocking work was cancelled (timeout, fail-fast).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

/// Runs `work()` on the worker pool and returns its result; rethrows what it threw,
/// throws Cancelled when the awaiting coroutine is cancelled first. `work` must own
/// what it touches (capture by value): it may outlive the coroutine that started it.
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work>> run_blocking(Work work) {
  using T = std::invoke_result_t<Work>;
  struct Outcome {
    std::optional<T> value;
    std::exception_ptr error;
  };
  auto outcome = std::make_shared<Outcome>();
  const bool finished = co_await detail::run_on_pool([work = std::move(work), outcome]() mutable {
    try {
      outcome->value.emplace(work());
    } catch (...) {
      outcome->error = std::current_exception();
    }
  });
  if (!finished) {
    throw Cancelled();
  }
  if (outcome->error) {
    std::rethrow_exception(outcome->error);
  }
  co_return std::move(*outcome->value);
}

}  // namespace promote::scheduler
