#include "engine/promoter/trust.hpp"

#include <nlohmann/json.hpp>

#include "engine/util/json.hpp"
#include "engine/util/text.hpp"

namespace promote::promoter {

namespace {

constexpr const char* k_signature_member = "signature";

// Why a signature check found what it found, one line.
std::string why_not(const git::Verification& checked) {
  return std::string("its signature is ") + git::to_string(checked.status) +
         (checked.reason.empty() ? "" : " (" + util::one_line(checked.reason) + ")");
}

}  // namespace

NoteLine split_note_line(std::string_view line) {
  const auto value = nlohmann::json::parse(line, nullptr, false);
  if (value.is_object() && value.size() == 2) {
    const auto signature = value.find(k_signature_member);
    if (signature != value.end() && signature->is_string()) {
      nlohmann::json record = value;
      record.erase(k_signature_member);
      return {util::dump_json(record), signature->get<std::string>()};
    }
  }
  return {std::string(line), std::nullopt};
}

Result<RecordTrust> RecordTrust::for_pipeline(const pipeline::Pipeline& pipeline, bool writing) {
  RecordTrust trust;
  auto signer = git::Signer::from_environment();
  if (!signer) {
    return signer.error();
  }
  trust.m_signer = std::move(*signer);
  if (pipeline.trust.signed_records) {
    trust.m_allowed_signers = pipeline.trust.allowed_signers;
    if (writing && !trust.m_signer) {
      return make_error(ErrorKind::usage,
                        std::string("the pipeline counts signed records only (trust.signed): "
                                    "set ") +
                            git::k_signing_key_variable +
                            " to the key promote signs its records with");
    }
  }
  return trust;
}

Result<std::string> sign_note_line(const git::Signer& signer, const std::string& line) {
  auto signature = signer.sign(line, git::k_record_namespace);
  if (!signature) {
    return signature.error();
  }
  auto value = nlohmann::json::parse(line, nullptr, false);
  if (!value.is_object() || value.contains(k_signature_member)) {
    return make_error(ErrorKind::internal, "not a record line promote signs: " + line);
  }
  value[k_signature_member] = *signature;
  return util::dump_json(value);
}

Result<std::optional<std::string>> RecordTrust::signer_of(
    std::string_view data, const std::optional<std::string>& signature, std::string_view name_space,
    std::string& why) const {
  why.clear();
  if (!required()) {
    return std::optional<std::string>();
  }
  if (!signature) {
    why = "it is not signed";
    return std::optional<std::string>();
  }
  auto checked = git::verify(data, *signature, m_allowed_signers, name_space);
  if (!checked) {
    return checked.error();
  }
  if (checked->status != git::Verification::Status::good) {
    why = why_not(*checked);
    return std::optional<std::string>();
  }
  return std::optional<std::string>(checked->principal);
}

Result<std::optional<std::string>> RecordTrust::line_signer(const NoteLine& line,
                                                            std::string& why) const {
  return signer_of(line.record, line.signature, git::k_record_namespace, why);
}

Result<std::optional<std::string>> RecordTrust::commit_signer(const git::Repository& repository,
                                                              const std::string& commit_id,
                                                              std::string& why) const {
  if (!required()) {
    why.clear();
    return std::optional<std::string>();
  }
  auto signature = repository.commit_signature(commit_id);
  if (!signature) {
    return signature.error();
  }
  return signer_of(*signature ? (*signature)->signed_data : std::string(),
                   *signature ? std::optional<std::string>((*signature)->signature) : std::nullopt,
                   git::k_commit_namespace, why);
}

Result<std::string> RecordTrust::own_principal() const {
  if (!required() || !m_signer) {
    return std::string();
  }
  if (m_principal) {
    return *m_principal;
  }
  const std::string probe = "promote: who signs with this key";
  auto signature = m_signer->sign(probe, git::k_record_namespace);
  if (!signature) {
    return signature.error();
  }
  auto checked = git::verify(probe, *signature, m_allowed_signers, git::k_record_namespace);
  if (!checked) {
    return checked.error();
  }
  if (checked->status != git::Verification::Status::good) {
    return make_error(ErrorKind::usage, std::string("the key of ") + git::k_signing_key_variable +
                                            " (" + util::one_line(m_signer->shown()) +
                                            ") cannot sign this pipeline's "
                                            "records: " +
                                            why_not(*checked) + "; add it to " +
                                            m_allowed_signers.string());
  }
  m_principal = checked->principal;
  return *m_principal;
}

}  // namespace promote::promoter
