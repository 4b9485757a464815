#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "engine/cli/app.hpp"
#include "engine/util/children.hpp"

// Everything promote owns is closed when cli::main returns (history, clones, files). The exit
// itself skips the library destructors and atexit handlers: a gate's blocking work abandoned
// after a timeout or a fail-fast may still run on a worker thread, and OpenSSL's cleanup at exit
// would pull its state from under it (a crash seen as exit 139 after a blocked dry run).
//
// SIGTERM, SIGINT and SIGHUP reach the process groups of running plugins before they end
// promote (util/children.hpp); once one has come, the signal, not an exit code, ends it.
int main(int argc, char** argv) {
  promote::util::handle_termination_signals();
  const int code = promote::cli::main(argc, argv);
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  promote::util::await_termination();
  std::_Exit(code);
}
