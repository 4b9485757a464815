#pragma once
// Carried files (README "Carried files"): the configuration a stage takes from its source stage
// with the release, whole files byte for byte or the values at some keys (pipeline `carry:`).
// A carried file is part of the candidate by the sha256 of what is carried: the file's bytes, or
// for keys the canonical JSON of their values (overlay::carried_values).

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/targets.hpp"

namespace promote::promoter {

/// The sha256 (hex) a release gives a carried file that holds `text`: of the bytes, or with
/// `keys`, of their values' canonical JSON. `file` labels errors; fails (input, FILE:LINE:COL)
/// as overlay::carried_values.
Result<std::string> carried_digest(std::string_view text, const std::string& file,
                                   const std::vector<std::string>& keys);

/// A carried path of the pipeline (relative to where target paths are, target_base) relative
/// to the repository root, symlinks followed; fails (config) when it leads out of the repository.
Result<std::string> carried_path(const pipeline::Pipeline& pipeline,
                                 const std::filesystem::path& root, const std::string& path);

/// The carried files a stage holds (Pipeline::carried_in), by name: their digests, read under
/// `root`, or with `changes`, as the files will be once those are written. Fails (input) when a
/// file is missing, too large or (with keys) malformed or without a key; (config) when a path
/// leads out of the repository.
Result<std::map<std::string, std::string>> carried_digests(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
    const std::filesystem::path& root, const std::vector<FileChange>* changes = nullptr);

/// The digests of the stage's carried files (its own `carry:`) that the newest promotion into it
/// recorded, by name: from the promote commits of the pipeline `id` ("file NAME: sha256:HEX").
/// A file no promotion carried yet is absent. Fails (git) when the log cannot be read.
Result<std::map<std::string, std::string>> recorded_carried(const git::Repository& repository,
                                                            const pipeline::Pipeline& pipeline,
                                                            const pipeline::Stage& stage,
                                                            const history::PipelineId& id);

/// What a stage's carry entry is carried from: the text of the source's file (for a promotion,
/// the source stage's file in the working tree; for a rollback, the stage's own file in the
/// commit that held the release).
using CarrySource = std::function<Result<std::string>(const pipeline::CarrySpec&)>;

/// Carries from the source stage's files in the working tree under `root`.
CarrySource carry_from_tree(const pipeline::Pipeline& pipeline, std::filesystem::path root);

/// Carries from the stage's own files as `commit` held them (a rollback); what it gives fails
/// (input) when `commit` is "" or does not hold the file. Keeps references to its arguments.
CarrySource carry_from_commit(const git::Repository& repository, const pipeline::Pipeline& pipeline,
                              std::filesystem::path root, const pipeline::Stage& stage,
                              std::string commit);

/// What carrying the release into `stage` writes: for each of the stage's carry entries whose
/// name `files` holds (name -> digest), the text its file gets (the source's bytes, or the
/// stage's text with the source's values at the keys), by path relative to the root, for the
/// files that change. `recorded` holds the digests the stage's last promotion recorded: a file
/// changed since (a hand edit) that the release would change is a conflict unless the entry says
/// `overwrite: true` (then `warnings` says what is overwritten). Fails (conflict) on such a hand
/// edit; (input) when the source does not hold the digest the release names, a file is missing
/// (promote carries into existing files only) or malformed; as carried_path.
Result<std::map<std::string, std::string>> carry_into(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
    const std::filesystem::path& root, const std::map<std::string, std::string>& files,
    const CarrySource& source, const std::map<std::string, std::string>& recorded,
    std::vector<std::string>* warnings);

}  // namespace promote::promoter
