#pragma once
// The `argocd` gate: the source stage's Argo CD Application(s), read through the Argo CD API,
// must be synced to a revision that contains the commit that brought the candidate into that
// stage, with a finished, succeeded sync operation and a Healthy health assessed after it.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// An Argo CD Application, reduced to what the gate judges. Absent fields are empty.
struct ArgoApplication {
  using TimePoint = std::chrono::system_clock::time_point;
  std::string name;                    ///< metadata.name
  std::string app_namespace;           ///< metadata.namespace
  bool deleting = false;               ///< metadata.deletionTimestamp is set
  std::vector<std::string> repo_urls;  ///< spec.source.repoURL, or each of spec.sources
  std::string sync_status;             ///< status.sync.status: Synced, OutOfSync, Unknown
  /// status.sync.revision, or status.sync.revisions of a multi-source application (one per
  /// source, in the order of spec.sources).
  std::vector<std::string> revisions;
  bool multi_source = false;  ///< spec.sources (or status.sync.revisions) rather than spec.source
  std::string health;         ///< status.health.status: Healthy, Progressing, Degraded, ...
  std::string health_message;
  std::optional<TimePoint> reconciled_at;  ///< status.reconciledAt
  bool operation_requested = false;        ///< a top-level `operation` waits to start
  std::string phase;  ///< status.operationState.phase: Running, Succeeded, Failed, Error, ...
  std::string operation_message;
  std::optional<TimePoint> started_at;   ///< status.operationState.startedAt
  std::optional<TimePoint> finished_at;  ///< status.operationState.finishedAt
  /// status.operationState.syncResult.revision, or its revisions (multi-source).
  std::vector<std::string> synced_revisions;
};

/// Reads one Application object. Fails (http) with "LABEL: what" when it is no object or a
/// field it reads has the wrong type or, for a time, is not RFC 3339.
Result<ArgoApplication> parse_application(const nlohmann::json& document, const std::string& label);

/// Reads the body of GET /api/v1/applications/NAME (one Application) or, with `list`, of
/// GET /api/v1/applications (its `items`, null for none). Fails (http) with "LABEL: what"
/// when the body is no JSON object, nests too deep, or an application does not parse.
Result<std::vector<ArgoApplication>> parse_applications(std::string_view body, bool list,
                                                        const std::string& label);

/// One application's verdict and why, for the gate's summary and details.
struct ApplicationJudgement {
  Verdict::Status status = Verdict::Status::error;
  std::string why;  ///< one line, without the application's name
};

/// Judges one application against `commit` (40 hex, the commit that brought the candidate into
/// the stage), in this order: being deleted fails; a sync operation requested or running is
/// pending; one that ended Failed or Error fails; Degraded fails once the health was assessed
/// after the last operation (pending before); a revision (of the sources whose revision
/// `commits` knows) must contain `commit`: none known is pending ("not in this clone yet"), an
/// older one (an ancestor of `commit`) pending, another one fails when the application is
/// Synced to it (it can never contain the commit) and is pending while OutOfSync; then
/// OutOfSync is pending, no finished Succeeded operation is pending, `suspended` decides a
/// Suspended health, any other health but Healthy is pending, and a health assessed before
/// the operation finished (reconciledAt) is pending. Else it passes. Fails (error) only when
/// `commits` cannot be read.
Result<ApplicationJudgement> judge_application(const ArgoApplication& application,
                                               const std::string& commit,
                                               const CommitGraph& commits,
                                               Verdict::Status suspended);

/// Builds an `argocd` gate from its `with:` block: `server` (http or https, no credentials),
/// `token_env` (default ARGOCD_AUTH_TOKEN), `applications` (names) or `selector` (a label
/// selector), `app_namespace`, `suspended` (fail, pending or pass; default pending),
/// `ca_file` (PEM, relative to the pipeline file) and `timeout` (per request, default 30s).
/// Reports every problem into `with.diagnostics()` and returns nullptr when invalid.
///
/// The gate judges the source stage: each application as judge_application says, the worst
/// verdict winning (fail, error, pending, pass); pending carries a retry_after of 30s. HTTP 404
/// fails ("no application X"); 401, 403, another status, a failed connection or a timeout is
/// an `error` naming the server and the application. The token never appears in the
/// configuration, the summary or the details.
std::unique_ptr<Gate> make_argocd(const pipeline::ConfigNode& with);

}  // namespace promote::gates
