#include "engine/promoter/promotion_parts.hpp"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <sstream>

#include "engine/image/reference.hpp"
#include "engine/promoter/proposal.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/util/files.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;
using Status = Verdict::Status;

// Parses the --image flags into references of pipeline images.
Result<std::map<std::string, image::Reference>> parse_image_flags(
    const pipeline::Pipeline& pipeline, const std::vector<std::string>& flags) {
  std::map<std::string, image::Reference> out;
  for (const auto& flag : flags) {
    const auto equals = flag.find('=');
    if (equals == std::string::npos || equals == 0) {
      return usage("--image expects NAME=REFERENCE (e.g. api=ghcr.io/acme/api:1.4.2), got '" +
                   flag + "'");
    }
    const std::string name = flag.substr(0, equals);
    const pipeline::ImageSpec* spec = pipeline.find_image(name);
    if (spec == nullptr) {
      std::string message = "--image: the pipeline has no image '" + name + "'";
      if (auto close = pipeline::did_you_mean(name, pipeline.image_names()); !close.empty()) {
        message += " (did you mean '" + close + "'?)";
      }
      return usage(message);
    }
    auto reference = image::parse(flag.substr(equals + 1));
    if (!reference) {
      return usage("--image " + name + ": " + reference.error().message);
    }
    if (reference->tag.empty() && reference->digest.empty()) {
      return usage("--image " + name + ": '" + reference->to_string() +
                   "' needs a tag or a digest to promote");
    }
    if (!image::same_repository(reference->repository(), spec->repository)) {
      return usage("--image " + name + ": '" + reference->repository() +
                   "' is not the pipeline's repository for " + name + " ('" + spec->repository +
                   "')");
    }
    if (!out.emplace(name, *reference).second) {
      return usage("--image " + name + " is given twice");
    }
  }
  return out;
}

Outcome judge(const std::vector<GateResult>& gates) {
  bool error = false;
  bool pending = false;
  for (const auto& gate : gates) {
    switch (gate.verdict.status) {
      case Status::fail:
        return Outcome::blocked;
      case Status::error:
        error = true;
        break;
      case Status::pending:
        pending = true;
        break;
      default:
        break;
    }
  }
  if (error) {
    return Outcome::error;
  }
  return pending ? Outcome::pending : Outcome::promoted;
}

// `anchor`, when not "", is the history's anchor before the promotion (history/anchor.hpp),
// written as the Promote-History trailer.
std::string commit_message(const PromotionResult& result, const std::string& anchor) {
  const std::string subject = commit_subject(result);
  std::string gates;
  for (const auto& gate : result.gates) {
    gates += (gates.empty() ? "" : ", ") + gate.name + "=" + to_string(gate.verdict.status);
  }
  std::ostringstream message;
  message << subject << "\n\n";
  for (const auto& [name, reference] : result.candidate.images) {
    message << name << ": " << reference.to_string() << "\n";
  }
  message << "\n"
          << k_pipeline_trailer << ": " << result.pipeline << "\n"
          << k_pipeline_file_trailer << ": " << result.pipeline_file << "\n"
          << "Promote-Stage: " << result.stage << "\n";
  if (!result.from.empty()) {
    message << "Promote-From: " << result.from << "\n";
  }
  message << "Promote-Candidate: " << result.candidate.id() << "\n"
          << "Promote-Id: " << result.promotion_id << "\n"
          << "Promote-Gates: "
          << (result.gates_skipped ? "skipped"
              : gates.empty()      ? "none"
                                   : gates)
          << "\n";
  if (!result.rollback_of.empty()) {
    message << "Promote-Rollback-Of: " << result.rollback_of << "\n";
  }
  if (!anchor.empty()) {
    message << history::k_anchor_trailer << ": " << anchor << "\n";
  }
  return message.str();
}

history::PromotionRecord to_record(const PromotionResult& result) {
  history::PromotionRecord record;
  record.id = result.promotion_id;
  record.pipeline = result.pipeline;
  record.pipeline_file = result.pipeline_file;
  record.stage = result.stage;
  record.from = result.from;
  record.candidate_id = result.candidate.id();
  record.images = result.candidate.to_json()["images"];
  record.outcome = to_string(result.outcome);
  record.actor = result.actor;
  record.reason = result.reason;
  record.ci_provider = result.ci_provider;
  record.ci_run_url = result.ci_run_url;
  record.commit = result.commit;
  record.error = result.error ? result.error->message : "";
  record.started = result.started;
  record.finished = result.finished;
  record.break_glass = result.break_glass;
  record.pull_request = result.pull_request;
  record.rollback_of = result.rollback_of;
  record.gates_skipped = result.gates_skipped;
  for (const auto& [name, reference] : result.previous) {
    record.previous[name] = reference;
  }
  for (const auto& place : result.places) {
    record.places.push_back({{"file", place.file}, {"image", place.image}, {"value", place.value}});
  }
  for (const auto& change : result.changes) {
    record.files.push_back(change.path);
  }
  std::sort(record.files.begin(), record.files.end());
  for (const auto& gate : result.gates) {
    history::GateRecord row;
    row.name = gate.name;
    row.use = gate.use;
    row.status = to_string(gate.verdict.status);
    row.summary = gate.verdict.summary;
    row.details = gate.verdict.details.is_null() ? nlohmann::json::object() : gate.verdict.details;
    row.config = gate.config;
    if (gate.verdict.retry_after) {
      row.retry_after_seconds = gate.verdict.retry_after->count();
    }
    for (const auto& evidence : gate.verdict.evidence) {
      row.evidence.push_back({evidence.path, evidence.sha256});
    }
    record.gates.push_back(std::move(row));
  }
  return record;
}

// The candidate a stage's target holds: the value of each pipeline image, kept in `reading`;
// fails (input) when the target lacks an image. When its places disagree on an image, fails, or
// with `disagreed`, takes the first value and names the image there.
Result<Candidate> read_candidate(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const fs::path& root, TargetReading* reading,
                                 std::vector<std::string>* disagreed) {
  EmptyValues empty;
  auto held = read_target(pipeline, stage, root, reading, &empty);
  if (!held) {
    return held.error();
  }
  Candidate candidate;
  for (const auto& image : pipeline.images) {
    const auto found = held->find(image.name);
    if (found == held->end() && empty.contains(image.name)) {
      return make_error(ErrorKind::input, "stage '" + stage.name + "' does not set image '" +
                                              image.name + "': the value at " +
                                              empty.at(image.name) + " is empty (" +
                                              k_empty_meaning + "); promote a reference into '" +
                                              stage.name + "' first, or write one there");
    }
    if (found == held->end()) {
      // What the target could not read may hold it: say what was skipped.
      std::string skipped;
      for (const auto& warning : target_warnings(*reading)) {
        skipped += "; " + warning;
      }
      return make_error(ErrorKind::input, "stage '" + stage.name + "' does not set image '" +
                                              image.name + "' (" + image.match +
                                              ") anywhere in its target" + skipped);
    }
    if (found->second.size() > 1 && disagreed != nullptr) {
      disagreed->push_back(image.name);
    } else if (found->second.size() > 1) {
      std::string values;
      for (const auto& reference : found->second) {
        values += (values.empty() ? "" : ", ") + reference.to_string();
      }
      return make_error(ErrorKind::input, "stage '" + stage.name +
                                              "' does not agree with itself on image '" +
                                              image.name + "': its target holds " + values);
    }
    candidate.images[image.name] = found->second.front();
  }
  return candidate;
}

// What the stage's target held at the parent of `commit` (its files written out of git into
// a temporary directory and read as read_target reads them); nullopt when the commit has no
// parent. Fails when the target did not hold every pipeline image there.
Result<std::optional<Before>> state_before(const git::Repository& repository,
                                           const pipeline::Pipeline& pipeline,
                                           const pipeline::Stage& stage, const fs::path& root,
                                           const std::string& commit) {
  auto parent = repository.resolve(commit + "^");
  if (!parent) {
    return parent.error();
  }
  if (!parent->has_value()) {
    return std::optional<Before>();
  }
  std::string dir = (fs::temp_directory_path() / "promote-before-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    return make_error(ErrorKind::internal, "cannot create a temporary directory");
  }
  struct Remove {
    fs::path dir;
    ~Remove() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove{dir};
  if (auto exported = repository.export_tree(**parent, dir); !exported) {
    return exported.error();
  }
  pipeline::Pipeline then = pipeline;
  if (pipeline.repository.is_local()) {
    then.base_dir =
        fs::path(dir) / fs::weakly_canonical(pipeline.base_dir).lexically_relative(root);
  }
  Before before;
  TargetReading reading;
  auto candidate =
      read_candidate(then, *then.find_stage(stage.name), dir, &reading, &before.disagreed);
  if (!candidate) {
    return make_error(candidate.error().kind,
                      "cannot tell what '" + stage.name + "' held before promotion commit " +
                          commit.substr(0, 12) + " (at " + (*parent)->substr(0, 12) +
                          "): " + candidate.error().message);
  }
  before.candidate = std::move(*candidate);
  before.places = target_places(reading);
  for (const auto& [place, images] : before.places) {
    if (std::none_of(images.begin(), images.end(),
                     [](const auto& image) { return image.second.size() > 1; })) {
      continue;
    }
    for (const auto& file : place_files(reading, place)) {
      auto text = util::read_file(fs::path(dir) / file, k_max_target_file);
      if (!text) {
        return text.error();
      }
      before.files[place][file] = std::move(*text);
    }
  }
  return std::optional<Before>(std::move(before));
}

// A rollback of the promotion of `commit` that puts every place of the target back as it
// was before it: a place that held one value of an image gets it back; a place that held
// several is put back whole, its files as they were, when that promotion was the last to
// change them (else the edit fails, and nothing is written).
Result<PlaceEdits> put_back_places(const git::Repository& repository, const std::string& commit,
                                   const Before& before) {
  PlaceEdits edits;
  for (const auto& [place, images] : before.places) {
    const auto files = before.files.find(place);
    if (files == before.files.end()) {
      for (const auto& [name, references] : images) {
        edits.values[place][name] = references.front();
      }
      continue;
    }
    edits.kept[place] = images;
    for (const auto& [file, then] : files->second) {
      auto written = repository.read_file(commit, file);
      if (!written) {
        return written.error();
      }
      if (written->has_value() && **written != then) {
        edits.files[file] = PlaceEdits::Restore{std::move(**written), then};
      }
    }
  }
  return edits;
}

// The pipeline images listed in a promote commit's body ("api: ghcr.io/acme/api:1.4.2").
Candidate images_in_message(const pipeline::Pipeline& pipeline, const std::string& message) {
  Candidate candidate;
  std::istringstream lines(message);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(": ");
    if (colon == std::string::npos || pipeline.find_image(line.substr(0, colon)) == nullptr) {
      continue;
    }
    if (auto reference = image::parse(line.substr(colon + 2))) {
      candidate.images.emplace(line.substr(0, colon), *reference);
    }
  }
  return candidate;
}

}  // namespace promote::promoter
