// Fuzzes the reader of Argo CD Application bodies (one application, and a list of them) and
// the judgement of each application read: the reader fails with a message or gives
// applications, and a judgement passes only an application that is Synced to a revision that
// holds the commit, after a Succeeded operation, healthy as assessed after it.
#include <array>

#include "gates/argocd.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using Status = promote::Verdict::Status;

const std::string k_commit(40, 'c');

// A commit graph of made-up revisions: 40 hex digits are known; one of 'c' or 'd' digits
// holds the commit (the commit and its descendants), one of 'a' digits is an ancestor of it,
// the rest are on another branch.
struct Graph : promote::CommitGraph {
  promote::Result<std::optional<bool>> contains(const std::string& revision,
                                                const std::string& commit) const override {
    const auto hex = [](const std::string& id) {
      return id.size() == 40 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
    };
    if (!hex(revision)) {
      return std::optional<bool>();
    }
    if (revision == commit) {
      return std::optional<bool>(true);
    }
    if (commit == k_commit) {
      return std::optional<bool>(revision == std::string(40, 'd'));
    }
    return std::optional<bool>(revision == k_commit && commit == std::string(40, 'a'));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::fuzz::require;
  const std::string_view text = promote::fuzz::as_text(data, size);
  const Graph graph;
  for (const bool list : {false, true}) {
    const auto parsed = promote::gates::parse_applications(text, list, "GET x");
    if (!parsed) {
      require(parsed.error().message.rfind("GET x: ", 0) == 0, "an error without its label");
      continue;
    }
    require(list || parsed->size() == 1, "one application read as several");
    for (const auto& app : *parsed) {
      for (const Status suspended : {Status::fail, Status::pending, Status::pass}) {
        const auto judged = promote::gates::judge_application(app, k_commit, graph, suspended);
        require(judged.has_value(), "the made-up graph never fails");
        require(!judged->why.empty(), "a judgement without a reason");
        require(judged->status == Status::pass || judged->status == Status::pending ||
                    judged->status == Status::fail,
                "a judgement that is neither pass, pending nor fail");
        if (judged->status == Status::pass) {
          require(app.sync_status == "Synced" && app.phase == "Succeeded" &&
                      !app.operation_requested && !app.deleting && app.finished_at &&
                      app.reconciled_at && *app.reconciled_at >= *app.finished_at &&
                      (app.health == "Healthy" ||
                       (app.health == "Suspended" && suspended == Status::pass)),
                  "a pass for an application that is not synced, succeeded and healthy");
          const bool holds = std::any_of(
              app.revisions.begin(), app.revisions.end(), [](const std::string& revision) {
                return revision == k_commit || revision == std::string(40, 'd');
              });
          require(holds, "a pass for a revision without the commit");
        }
      }
    }
  }
  return 0;
}
