// `promote serve`: the pipelines' API over HTTP, and the loop promoting their `auto` stages,
// until a termination signal stops both gracefully.
#include <future>
#include <iostream>
#include <memory>

#include "engine/cli/options.hpp"
#include "engine/http/server.hpp"
#include "engine/serve/runtime.hpp"
#include "engine/util/children.hpp"
#include "engine/util/log.hpp"
#include "engine/util/text.hpp"

namespace promote::cli {

int run_serve(const Options& options) {
  util::set_log_format(options.log_format == "json" ? util::LogFormat::json
                                                    : util::LogFormat::text);
  serve::ServiceOptions wanted;
  for (const auto& file :
       options.files.empty() ? std::vector<std::string>{options.file} : options.files) {
    wanted.pipeline_files.emplace_back(file);
  }
  wanted.history_path = history_flag(options);
  if (!options.tokens.empty()) {
    wanted.tokens_file = options.tokens;
  }
  if (!options.workdir.empty()) {
    wanted.workdir = options.workdir;
  }
  serve::LoopOptions loop_options;
  loop_options.history_path = wanted.history_path;
  if (!options.actor.empty()) {
    loop_options.actor = options.actor;
  }
  auto started = serve::Runtime::start(wanted, loop_options);
  if (!started) {
    return fail(started.error(), false);
  }
  const std::shared_ptr<serve::Runtime> runtime = std::move(*started);
  auto bound = http::Server::bind(options.listen, [runtime](const http::Incoming& request) {
    return runtime->handle(request);
  });
  if (!bound) {
    return fail(bound.error(), false);
  }
  const std::shared_ptr<http::Server> server = std::move(*bound);
  // SIGTERM (or SIGINT, SIGHUP), on the signal thread: stop accepting and let the requests being
  // answered finish; this thread then stops the loop (the promotion being made finishes) and
  // says so, and the signal ends promote as it ends every command.
  auto stopped = std::make_shared<std::promise<void>>();
  util::before_termination([server, done = stopped->get_future().share()] {
    server->stop(k_serve_request_grace);
    done.wait_for(k_serve_promotion_grace);
  });
  const std::size_t automatic = runtime->auto_stages();
  const std::size_t pipelines = runtime->service()->pipelines().size();
  const std::string listening = "listening on http://" + server->address() + " (" +
                                std::to_string(pipelines) + " pipeline" +
                                (pipelines == 1 ? "" : "s") + ", " + std::to_string(automatic) +
                                " auto stage" + (automatic == 1 ? "" : "s") + ")";
  if (util::log_format() == util::LogFormat::json) {
    util::notice("serve: " + listening);  // every line a JSON object, this one too
  } else {
    std::cout << "promote serve: " << listening << std::endl;
  }
  // A pipeline file that changes (a push arrived, an edit) is read again.
  runtime->watch();
  server->run();
  util::before_termination(nullptr);
  runtime->stop();
  stopped->set_value();
  return 0;
}

}  // namespace promote::cli
