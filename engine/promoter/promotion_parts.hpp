#pragma once
// The parts of a promotion that need none of its state (internal to engine/promoter: included
// by promotion.cpp): the --image flags, the judgement of the gates, the commit message and the
// history record of a result, the candidate a stage holds, and what a rollback puts back when
// the places of a target disagreed before the promotion it undoes.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/targets.hpp"

namespace promote::promoter {

inline Error usage(std::string message) {
  return make_error(ErrorKind::usage, std::move(message));
}

/// What an empty image value (a chart's `tag: ""`) means, as messages say it.
inline constexpr const char* k_empty_meaning = "a chart then deploys its appVersion";

/// The images given for a first stage, as references of pipeline images: --images-from, then
/// --tag (every image of the stage, or of --group), then --image, a later one over an earlier
/// one for the same image. Fails (usage) naming a bad flag or line, an image outside the
/// stage's group, --group without --tag. What --images-from passed over goes to `warnings`.
Result<std::map<std::string, image::Reference>> parse_image_flags(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage, const Request& request,
    std::vector<std::string>* warnings);

/// The --chart flags (NAME=VERSION) as versions of pipeline charts; fails (usage) naming a flag
/// whose chart is unknown or kept as a range by the stage, or whose version is a range or not
/// SemVer 2.0.
Result<std::map<std::string, std::string>> parse_chart_flags(const pipeline::Pipeline& pipeline,
                                                             const pipeline::Stage& stage,
                                                             const std::vector<std::string>& flags);

/// The outcome the gates' verdicts make: blocked on a failure, else error, else pending, else
/// promoted.
Outcome judge(const std::vector<GateResult>& gates);

/// The message of a promotion's commit, with its Promote-* trailers; `anchor`, when not "", is
/// the history's anchor before the promotion (history/anchor.hpp), the Promote-History trailer.
std::string commit_message(const PromotionResult& result, const std::string& anchor = "");

/// The history record of a result.
history::PromotionRecord to_record(const PromotionResult& result);

/// The history record of one gate's verdict.
history::GateRecord to_record(const GateResult& gate);

/// The candidate a stage's target holds: the value of each image it promotes and the version of
/// each chart it pins (an exact SemVer 2.0 version, agreed by every place), kept in `reading`,
/// and the digests of the carried files it holds (carried_digests); fails (input) when the
/// target lacks an image. When its places disagree on an image, fails,
/// or with `disagreed`, takes the first value and names the image there.
Result<Candidate> read_candidate(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const std::filesystem::path& root, TargetReading* reading,
                                 std::vector<std::string>* disagreed);

/// The candidate `stage`, which has a source stage, would get now: what the source holds (read as
/// read_candidate reads it), limited to the images of the stage's group and the charts it does
/// not keep as a range; the carried files it carries as the source holds them, and the other
/// carried files it holds (those a later stage carries from it) as they are. Fails as
/// read_candidate and carried_digests.
Result<Candidate> candidate_for(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                const std::filesystem::path& root);

/// What a stage's target held at the parent of a commit.
struct Before {
  Candidate candidate;                 ///< the first value of each image
  PlaceImages places;                  ///< what each place held
  std::vector<std::string> disagreed;  ///< the images held at several values
  /// per place with an image at several values: its files, with their text then
  std::map<std::string, std::map<std::string, std::string>> files;
};

/// What `stage`'s target held at the parent of `commit` (its files written out of git into a
/// temporary directory and read as read_target reads them); nullopt when the commit has no
/// parent. Fails when the target did not hold every pipeline image there.
Result<std::optional<Before>> state_before(const git::Repository& repository,
                                           const pipeline::Pipeline& pipeline,
                                           const pipeline::Stage& stage,
                                           const std::filesystem::path& root,
                                           const std::string& commit);

/// The edits of a rollback of the promotion of `commit` that put every place of the target
/// back as it was before it: a place that held one value of an image gets it back; a place
/// that held several is put back whole, its files as they were, when that promotion was the
/// last to change them (else the edit fails, and nothing is written).
Result<PlaceEdits> put_back_places(const git::Repository& repository, const std::string& commit,
                                   const Before& before);

/// How a promote commit's body lists a release's charts and carried files, before the name:
/// "chart podinfo: 6.5.0", "file settings: sha256:HEX".
inline constexpr const char* k_chart_line = "chart ";
inline constexpr const char* k_file_line = "file ";

/// The release listed in a promote commit's body: its images ("api: ghcr.io/acme/api:1.4.2"),
/// charts and carried files (k_chart_line, k_file_line).
Candidate images_in_message(const pipeline::Pipeline& pipeline, const std::string& message);

/// Under --wait (`request.wait`): sleeps until the earliest retry_after of the result's pending
/// gates when that is before the deadline, telling `request.on_wait`, and clears the gates to
/// be evaluated again; returns false (with a warning saying why, when a gate would change
/// after it) when the deadline comes first or nothing is pending.
bool wait_for_pending(const Request& request, PromotionResult& result);

/// A held stage (promote hold) takes nothing: its one verdict is the hold, pending until a
/// release, and the gates are not run. Adds that verdict to `result` and returns true when
/// `stage` of `pipeline` is held (or its hold could not be read: an error verdict).
bool held(const history::History& history, const history::PipelineId& pipeline,
          const std::string& stage, PromotionResult& result);

}  // namespace promote::promoter
