// Fuzzes how a plugin's output becomes a verdict: interpret() never crashes, and anything but a
// clean exit with a well-formed verdict is an error. The input is the plugin's stdout, then
// (after a NUL byte, when there is one) its stderr.
#include "plugins/host.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  const std::string_view text = fuzz::as_text(data, size);
  const std::size_t nul = text.find('\0');
  plugins::RunOutput output;
  output.out = std::string(text.substr(0, nul));
  output.err_tail = nul == std::string_view::npos ? "" : std::string(text.substr(nul + 1));
  output.max_stdout = std::size_t{1} << 20;
  output.exit_code = 0;
  const Verdict clean = plugins::interpret(output, "promote-gate-fuzz");
  fuzz::require(clean.status == Verdict::Status::error || nlohmann::json::accept(output.out),
                "output that is not JSON gave a verdict other than error");
  // The same output from a run that failed is an error, whatever it says.
  output.exit_code = 1;
  fuzz::require(plugins::interpret(output, "promote-gate-fuzz").status == Verdict::Status::error,
                "a failed run that is not an error");
  output.exit_code.reset();
  output.signal = 9;
  fuzz::require(plugins::interpret(output, "promote-gate-fuzz").status == Verdict::Status::error,
                "a killed run that is not an error");
  return 0;
}
