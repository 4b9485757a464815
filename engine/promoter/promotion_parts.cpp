#include "engine/promoter/promotion_parts.hpp"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "engine/image/reference.hpp"
#include "engine/image/semver.hpp"
#include "engine/pipeline/images_from.hpp"
#include "engine/promoter/carried.hpp"
#include "engine/promoter/proposal.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/util/files.hpp"
#include "engine/util/time.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;
using Status = Verdict::Status;

namespace {

/// One image given on the command line (or by --images-from): checked as a reference of the
/// pipeline's repository for that image, with a tag or a digest. `label` says where it was
/// given ("--image api", "--tag", "images.env:3").
Result<image::Reference> given_image(const pipeline::ImageSpec& spec, const std::string& text,
                                     const std::string& label) {
  auto reference = image::parse(text);
  if (!reference) {
    return usage(label + ": " + reference.error().message);
  }
  if (reference->tag.empty() && reference->digest.empty()) {
    return usage(label + ": '" + reference->to_string() + "' needs a tag or a digest to promote");
  }
  if (!image::same_repository(reference->repository(), spec.repository)) {
    return usage(label + ": '" + reference->repository() +
                 "' is not the pipeline's repository for " + spec.name + " ('" + spec.repository +
                 "')");
  }
  return *reference;
}

}  // namespace

// The images given for a first stage: --images-from, then --tag (for the stage's images, or
// --group's), then --image, each later one over the earlier for the same image.
Result<std::map<std::string, image::Reference>> parse_image_flags(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage, const Request& request,
    std::vector<std::string>* warnings) {
  std::map<std::string, image::Reference> out;
  const auto in_stage = [&](const pipeline::ImageSpec& spec,
                            const std::string& label) -> Result<void> {
    if (!stage.group.empty() && spec.group != stage.group) {
      return usage(label + ": stage '" + stage.name + "' promotes only the images of group '" +
                   stage.group + "', and " + spec.name + " is not one of them");
    }
    return {};
  };
  if (request.images_from) {
    auto from = pipeline::read_images_from(*request.images_from, pipeline);
    if (!from) {
      return from.error();
    }
    for (const auto& entry : from->images) {
      const pipeline::ImageSpec& spec = *pipeline.find_image(entry.name);
      if (!stage.group.empty() && spec.group != stage.group) {
        continue;  // a build writes every image; this stage takes its group's
      }
      auto reference = given_image(spec, entry.value, entry.where);
      if (!reference) {
        return reference.error();
      }
      out.insert_or_assign(entry.name, *reference);
    }
    if (warnings != nullptr) {
      for (const auto& skipped : from->skipped) {
        warnings->push_back("--images-from: " + skipped + " names no image of the pipeline");
      }
    }
  }
  if (!request.group.empty() && request.tag.empty()) {
    return usage("--group chooses the images --tag sets: give --tag TAG");
  }
  if (!request.tag.empty()) {
    int set = 0;
    for (const pipeline::ImageSpec* spec : pipeline.images_of(stage)) {
      if (!request.group.empty() && spec->group != request.group) {
        continue;
      }
      auto reference = given_image(*spec, spec->repository + ":" + request.tag, "--tag");
      if (!reference) {
        return reference.error();
      }
      out.insert_or_assign(spec->name, *reference);
      ++set;
    }
    if (set == 0) {
      return usage("--tag: no image of stage '" + stage.name + "' is in group '" + request.group +
                   "'");
    }
  }
  std::set<std::string> flagged;
  for (const auto& flag : request.images) {
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
    if (auto fits = in_stage(*spec, "--image " + name); !fits) {
      return fits.error();
    }
    auto reference = given_image(*spec, flag.substr(equals + 1), "--image " + name);
    if (!reference) {
      return reference.error();
    }
    if (!flagged.insert(name).second) {
      return usage("--image " + name + " is given twice");
    }
    out.insert_or_assign(name, *reference);
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_chart_flags(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
    const std::vector<std::string>& flags) {
  std::map<std::string, std::string> out;
  for (const auto& flag : flags) {
    const auto equals = flag.find('=');
    if (equals == std::string::npos || equals == 0) {
      return usage("--chart expects NAME=VERSION (e.g. podinfo=6.5.0), got '" + flag + "'");
    }
    const std::string name = flag.substr(0, equals);
    const std::string version = flag.substr(equals + 1);
    if (pipeline.find_chart(name) == nullptr) {
      std::string message = "--chart: the pipeline has no chart '" + name + "'";
      if (auto close = pipeline::did_you_mean(name, pipeline.chart_names()); !close.empty()) {
        message += " (did you mean '" + close + "'?)";
      }
      return usage(message);
    }
    if (std::find(stage.keep_range.begin(), stage.keep_range.end(), name) !=
        stage.keep_range.end()) {
      return usage("--chart " + name + ": stage '" + stage.name +
                   "' keeps its range of this chart (keep_range)");
    }
    if (image::is_version_range(version)) {
      return usage("--chart " + name + ": '" + version +
                   "' is a range; a promotion pins an exact SemVer 2.0 version (e.g. 6.5.0)");
    }
    if (auto parsed = image::parse_semver(version); !parsed) {
      return usage("--chart " + name + ": " + parsed.error().message);
    }
    if (!out.emplace(name, version).second) {
      return usage("--chart " + name + " is given twice");
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
  for (const auto& [name, version] : result.candidate.charts) {
    message << k_chart_line << name << ": " << version << "\n";
  }
  for (const auto& [name, digest] : result.candidate.files) {
    message << k_file_line << name << ": sha256:" << digest << "\n";
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
  record.charts = result.candidate.charts;
  record.carried = result.candidate.files;
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
    record.gates.push_back(to_record(gate));
  }
  return record;
}

history::GateRecord to_record(const GateResult& gate) {
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
  return row;
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
  for (const pipeline::ImageSpec* spec : pipeline.images_of(stage)) {
    const pipeline::ImageSpec& image = *spec;
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
  const TargetCharts charts = target_charts(*reading);
  for (const pipeline::ChartSpec* chart : pipeline.charts_of(stage)) {
    const auto found = charts.find(chart->name);
    if (found == charts.end() || found->second.empty()) {
      return make_error(ErrorKind::input, "stage '" + stage.name + "' pins no version of chart '" +
                                              chart->name + "' anywhere in its target");
    }
    for (const overlay::ChartPlace& place : found->second) {
      if (place.version != found->second.front().version) {
        return make_error(ErrorKind::input, "stage '" + stage.name +
                                                "' does not agree with itself on chart '" +
                                                chart->name + "': " + found->second.front().where +
                                                " pins '" + found->second.front().version + "', " +
                                                place.where + " pins '" + place.version + "'");
      }
    }
    const overlay::ChartPlace& place = found->second.front();
    if (!image::parse_semver(place.version)) {
      return make_error(
          ErrorKind::input,
          place.where + ": stage '" + stage.name + "' pins chart '" + chart->name + "' as '" +
              place.version + "' (" + place.what + "), " +
              (image::is_version_range(place.version) ? "a range" : "not a SemVer 2.0 version") +
              "; a promotion needs an exact version: pin one, or give the stage keep_range: [" +
              chart->name + "]");
    }
    candidate.charts[chart->name] = place.version;
  }
  auto files = carried_digests(pipeline, stage, root);
  if (!files) {
    return files.error();
  }
  candidate.files = std::move(*files);
  return candidate;
}

Result<Candidate> candidate_for(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                const fs::path& root) {
  TargetReading reading;
  auto source = read_candidate(pipeline, *pipeline.find_stage(stage.from.value_or("")), root,
                               &reading, nullptr);
  if (!source) {
    return source.error();
  }
  Candidate candidate;
  for (const pipeline::ImageSpec* image : pipeline.images_of(stage)) {
    if (const auto found = source->images.find(image->name); found != source->images.end()) {
      candidate.images.insert(*found);
    }
  }
  for (const pipeline::ChartSpec* chart : pipeline.charts_of(stage)) {
    if (const auto found = source->charts.find(chart->name); found != source->charts.end()) {
      candidate.charts.insert(*found);
    }
  }
  const auto carried = pipeline.carried_in(stage);
  if (!carried.empty()) {
    auto held = carried_digests(pipeline, stage, root);
    if (!held) {
      return held.error();
    }
    candidate.files = std::move(*held);
    for (const auto& carry : stage.carry) {
      if (const auto found = source->files.find(carry.name); found != source->files.end()) {
        candidate.files[carry.name] = found->second;
      }
    }
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

// The release listed in a promote commit's body: "api: ghcr.io/acme/api:1.4.2" for an image,
// "chart podinfo: 6.5.0" for a chart, "file settings: sha256:HEX" for a carried file.
Candidate images_in_message(const pipeline::Pipeline& pipeline, const std::string& message) {
  Candidate candidate;
  std::istringstream lines(message);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == ' ') {
      continue;
    }
    for (const auto& [prefix, into] :
         {std::pair{k_chart_line, &candidate.charts}, std::pair{k_file_line, &candidate.files}}) {
      const auto colon = line.find(": ");
      if (line.starts_with(prefix) && colon != std::string::npos) {
        std::string value = line.substr(colon + 2);
        if (into == &candidate.files) {
          if (!value.starts_with("sha256:")) {
            continue;
          }
          value.erase(0, 7);
        }
        into->emplace(
            line.substr(std::string_view(prefix).size(), colon - std::string_view(prefix).size()),
            value);
      }
    }
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

bool wait_for_pending(const Request& request, PromotionResult& result) {
  if (!request.wait) {
    return false;
  }
  std::optional<std::chrono::seconds> earliest;
  std::string waiting_for;
  for (const auto& gate : result.gates) {
    if (gate.verdict.status == Status::pending) {
      const auto after = gate.verdict.retry_after.value_or(std::chrono::seconds(60));
      if (!earliest || after < *earliest) {
        earliest = std::max(after, std::chrono::seconds(1));
        waiting_for = gate.name + " (" + gate.verdict.summary + ")";
      }
    }
  }
  const auto deadline = result.started + *request.wait;
  const auto now = std::chrono::system_clock::now();
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - now);
  if (!earliest || now + *earliest > deadline) {
    if (earliest) {
      result.warnings.push_back("--wait ends in " + pipeline::format_duration(left) + ", before " +
                                waiting_for + " can change in " +
                                pipeline::format_duration(*earliest));
    }
    return false;
  }
  // Sleep in steps of a second at most, so a progress display can count down.
  const auto until = std::chrono::steady_clock::now() + *earliest;
  bool tick = false;
  for (auto now_steady = std::chrono::steady_clock::now(); now_steady < until;
       now_steady = std::chrono::steady_clock::now()) {
    const auto next = std::chrono::ceil<std::chrono::seconds>(until - now_steady);
    if (request.on_wait) {
      request.on_wait(WaitProgress{waiting_for, next, left - (*earliest - next), tick});
    }
    tick = true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now_steady, std::chrono::seconds(1)));
  }
  result.gates.clear();
  return true;
}

bool held(const history::History& history, const history::PipelineId& pipeline,
          const std::string& stage, PromotionResult& result) {
  auto hold = history.hold(pipeline, stage);
  if (hold && !hold->has_value()) {
    return false;
  }
  Verdict verdict;
  if (!hold) {
    verdict = Verdict::make(Status::error, hold.error().message);
  } else {
    const history::HoldRecord& record = **hold;
    verdict = Verdict::make(Status::pending,
                            "held by " + record.actor + " since " + util::format_utc(record.at) +
                                ": " + record.reason + " (promote release --stage " + stage + ")",
                            {{"actor", record.actor},
                             {"reason", record.reason},
                             {"since", util::format_utc(record.at)}});
    verdict.retry_after = std::chrono::minutes(5);
  }
  result.gates.push_back(GateResult{"hold", "hold", nlohmann::json::object(), std::move(verdict)});
  return true;
}

}  // namespace promote::promoter
