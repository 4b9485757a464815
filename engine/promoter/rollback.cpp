#include "engine/promoter/rollback.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/promoter/carried.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/promoter/scope.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

Result<Rollback> find_rollback(const git::Repository& repository,
                               const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                               const fs::path& root, const history::PipelineId& id,
                               const TargetImages& held, const TargetReading& reading,
                               const std::string& rollback_to, const fs::path& history) {
  Rollback out;
  Candidate current;
  for (const auto& [name, references] : held) {
    current.images[name] = references.front();
  }
  std::erase_if(current.images, [&](const auto& image) {
    const auto images = pipeline.images_of(stage);
    return std::none_of(images.begin(), images.end(),
                        [&](const pipeline::ImageSpec* spec) { return spec->name == image.first; });
  });
  if (auto files = carried_digests(pipeline, stage, root); !files) {
    return files.error();
  } else {
    current.files = std::move(*files);
  }
  // Releases are told apart by what the stage promotes: not by the carried files a later
  // stage takes from it, which promotions into it leave as they are.
  const auto own = [&](Candidate candidate) {
    std::erase_if(candidate.files, [&](const auto& file) {
      return std::none_of(
          stage.carry.begin(), stage.carry.end(),
          [&](const pipeline::CarrySpec& carry) { return carry.name == file.first; });
    });
    return candidate.id();
  };
  const TargetCharts pinned = target_charts(reading);
  for (const pipeline::ChartSpec* chart : pipeline.charts_of(stage)) {
    if (const auto places = pinned.find(chart->name);
        places != pinned.end() && !places->second.empty()) {
      current.charts[chart->name] = places->second.front().version;
    }
  }
  std::optional<std::pair<std::string, Candidate>> found;
  // The oldest promote commit into the stage: its id and Promote-Id.
  std::optional<std::pair<std::string, std::string>> first;
  // The newest one, when the stage holds what it put there: the promotion a rollback undoes.
  std::optional<std::pair<std::string, std::string>> latest;
  bool newest = true;
  auto walked = repository.walk([&](const git::CommitInfo& commit) {
    if (git::trailer(commit.message, "Promote-Stage") != stage.name ||
        !commit_of(commit.message, id)) {
      return true;
    }
    const std::string id = git::trailer(commit.message, "Promote-Id");
    first.emplace(commit.id, id);
    Candidate candidate = images_in_message(pipeline, commit.message);
    if (candidate.images.empty()) {
      return true;
    }
    if (std::exchange(newest, false) && own(candidate) == own(current)) {
      latest.emplace(commit.id, id);
    }
    if (!rollback_to.empty() ? id == rollback_to : own(candidate) != own(current)) {
      found.emplace(id, std::move(candidate));
      out.commit = commit.id;
      return false;
    }
    return true;
  });
  if (!walked) {
    return walked.error();
  }
  if (rollback_to.empty() && (found ? latest : first)) {
    // Only promotions of what the stage holds now: put back what its files held before the
    // first of them. And when the places of the target disagreed before the promotion being
    // undone, put each back as it was then, rather than the candidate before it.
    const auto& undone = found ? *latest : *first;
    auto before = state_before(repository, pipeline, stage, root, undone.first);
    if (!before && !found) {
      return before.error();
    }
    if (before && *before && (!found || !(*before)->disagreed.empty())) {
      if (!(*before)->disagreed.empty()) {
        auto put = put_back_places(repository, undone.first, **before);
        if (!put) {
          return put.error();
        }
        out.place_edits = std::move(*put);
        std::string values;
        for (const auto& [place, images] : (*before)->places) {
          for (const auto& name : (*before)->disagreed) {
            if (const auto held = images.find(name); held != images.end()) {
              values += (values.empty() ? "" : ", ") + place + ": " + name;
              for (std::size_t i = 0; i < held->second.size(); ++i) {
                values += (i == 0 ? " " : " and ") + held->second[i].to_string();
              }
            }
          }
        }
        out.warnings.push_back("before promotion " + undone.second + ", stage '" + stage.name +
                               "' held different values at its places; " +
                               "this rollback puts each back as it was (" + values + ")");
      }
      found.emplace("before:" + undone.second, std::move((*before)->candidate));
      if (auto parent = repository.resolve(undone.first + "^"); parent && *parent) {
        out.commit = **parent;
      }
    }
  }
  if (!found && !rollback_to.empty()) {
    const fs::path& path = history;
    if (fs::exists(path)) {
      if (auto history = history::History::open(path)) {
        history::Query query;
        query.id = rollback_to;
        query.pipeline = id;
        if (auto records = history->list(query); records && !records->empty()) {
          const history::PromotionRecord& record = records->front();
          if (record.stage != stage.name || record.outcome != "promoted") {
            return usage("promotion " + rollback_to + " is a " + record.outcome +
                         " attempt into '" + record.stage + "', not a promotion into '" +
                         stage.name + "' to roll back to");
          }
          Candidate candidate;
          for (const auto& [name, text] : record.images.items()) {
            if (auto reference = image::parse(text.get<std::string>())) {
              candidate.images[name] = *reference;
            }
          }
          for (const auto& [name, version] : record.charts.items()) {
            candidate.charts[name] = version.get<std::string>();
          }
          for (const auto& [name, digest] : record.carried.items()) {
            candidate.files[name] = digest.get<std::string>();
          }
          found.emplace(record.id, std::move(candidate));
          out.commit = record.commit;
        }
      }
    }
  }
  if (!found) {
    return usage(rollback_to.empty()
                     ? "no earlier promotion into '" + stage.name +
                           "' is in the git log to roll back to; name one with --to ID"
                     : "no promotion " + rollback_to + " into '" + stage.name +
                           "' is in the git log or the history");
  }
  out.of = found->first;
  out.candidate = std::move(found->second);
  return out;
}

}  // namespace promote::promoter
