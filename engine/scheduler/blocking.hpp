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

namespace detail {
template <class T>
struct Outcome {
  std::optional<T> value;
  std::exception_ptr error;
};

template <class T>
boost::asio::awaitable<T> collect(boost::asio::awaitable<bool> finished,
                                  std::shared_ptr<Outcome<T>> outcome) {
  const bool done = co_await std::move(finished);
  if (!done) {
    throw Cancelled();
  }
  if (outcome->error) {
    std::rethrow_exception(outcome->error);
  }
  co_return std::move(*outcome->value);
}
}  // namespace detail

/// Runs `work()` on the worker pool and returns its result; rethrows what it threw,
/// throws Cancelled when the awaiting coroutine is cancelled first. `work` must own
/// what it touches (capture by value): it may outlive the coroutine that started it.
/// Pass a named closure (`auto work = [...]{...}; co_await run_blocking(std::move(work));`):
/// GCC 12 destroys closure temporaries inside a co_await expression twice.
// Not a coroutine itself: GCC 12 mishandles closures passed by value to coroutines.
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work>> run_blocking(Work work) {
  using T = std::invoke_result_t<Work>;
  auto outcome = std::make_shared<detail::Outcome<T>>();
  std::function<void()> job = [work = std::move(work), outcome]() mutable {
    try {
      outcome->value.emplace(work());
    } catch (...) {
      outcome->error = std::current_exception();
    }
  };
  return detail::collect<T>(detail::run_on_pool(std::move(job)), std::move(outcome));
}

}  // namespace promote::scheduler
