#pragma once
// Credentials from an `exec` plugin of a kubeconfig user, as kubectl gets them: the plugin
// runs (argv, no shell) with its env added to promote's and KUBERNETES_EXEC_INFO set, prints
// an ExecCredential (client.authentication.k8s.io/v1 or v1beta1) on stdout, and its token or
// client certificate is kept in this process until its expirationTimestamp. This is how EKS
// (aws eks get-token), GKE (gke-gcloud-auth-plugin) and AKS (kubelogin) hand out tokens. The
// plugin's stdout holds the secret: no message ever quotes it.

#include <chrono>
#include <optional>
#include <string>

#include "engine/error.hpp"
#include "engine/http/kubeconfig.hpp"

namespace promote::kube {

/// What a plugin handed out: a bearer token, or a client certificate and key (PEM).
struct ExecCredential {
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;  ///< nullopt: never
};

/// How long a plugin may run before it is killed; kubectl has no limit, promote must.
inline constexpr std::chrono::milliseconds k_exec_timeout{std::chrono::seconds(60)};

/// The credential of `user`'s exec plugin for `cluster`: the one kept from an earlier run
/// while it has not expired, else a new run's. Fails (config) when the user has no exec
/// plugin, the command is not found (with the plugin's installHint) or needs a terminal
/// (interactiveMode Always); fails (http) "exec plugin 'COMMAND' of user 'USER' ..." when it
/// cannot start, runs past `timeout` (it is killed), exits non-zero (with the end of its
/// stderr, made printable) or prints no ExecCredential of its apiVersion with a token or a
/// certificate and key. Safe to call from several threads.
Result<ExecCredential> exec_credential(const User& user, const Cluster& cluster,
                                       std::chrono::milliseconds timeout = k_exec_timeout);

/// Forgets the kept credential of `user`'s plugin for `cluster`, so that the next
/// `exec_credential` runs the plugin again: for when the server refused the credential (401).
void forget_exec_credential(const User& user, const Cluster& cluster);

/// The KUBERNETES_EXEC_INFO value for `exec` (its apiVersion, kind ExecCredential,
/// spec.interactive false, and spec.cluster when provideClusterInfo is set), as JSON text.
std::string exec_info(const ExecConfig& exec, const Cluster& cluster);

}  // namespace promote::kube
