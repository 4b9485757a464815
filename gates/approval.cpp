#include "gates/approval.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "engine/pipeline/pipeline.hpp"
#include "engine/util/json.hpp"
#include "engine/util/time.hpp"

namespace promote::gates {
namespace {

using Status = Verdict::Status;
using Clock = std::chrono::system_clock;

constexpr std::chrono::seconds k_default_valid_for = std::chrono::hours(24 * 7);
constexpr std::chrono::seconds k_poll = std::chrono::seconds(60);

struct Rules {
  std::vector<std::string> approvers;                     ///< people and group names; empty: anyone
  std::map<std::string, std::vector<std::string>> groups;  ///< group -> people
  std::map<std::string, long long> quorum;                 ///< group -> distinct approvals needed
  long long min = 1;                                       ///< distinct approvals needed in all
  std::chrono::seconds valid_for = k_default_valid_for;
  bool allow_self = false;
};

std::string join(const std::vector<std::string>& parts, const std::string& separator = ", ") {
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : separator) + part;
  }
  return out;
}

// Which slots (one per quorum seat, then the rest of `min`) the approvers can fill, each
// person filling one slot at most: a bipartite matching, by augmenting paths.
class Seats {
 public:
  // eligible[s]: the people who may fill slot s.
  explicit Seats(std::vector<std::vector<std::string>> eligible)
      : m_eligible(std::move(eligible)) {}

  // The slot each person fills (slot index -> person, "" when empty), maximal.
  std::vector<std::string> fill(const std::vector<std::string>& people) {
    m_slot_of.assign(m_eligible.size(), "");
    for (const auto& person : people) {
      std::set<std::size_t> seen;
      place(person, seen);
    }
    return m_slot_of;
  }

 private:
  bool place(const std::string& person, std::set<std::size_t>& seen) {
    for (std::size_t slot = 0; slot < m_eligible.size(); ++slot) {
      const auto& who = m_eligible[slot];
      if (seen.contains(slot) || std::find(who.begin(), who.end(), person) == who.end()) {
        continue;
      }
      seen.insert(slot);
      if (m_slot_of[slot].empty() || place(m_slot_of[slot], seen)) {
        m_slot_of[slot] = person;
        return true;
      }
    }
    return false;
  }

  std::vector<std::vector<std::string>> m_eligible;
  std::vector<std::string> m_slot_of;
};

class ApprovalGate : public Gate {
 public:
  explicit ApprovalGate(Rules rules) : m_rules(std::move(rules)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    co_return judge(context);
  }

  nlohmann::json config() const override {
    nlohmann::json out = {{"min", m_rules.min},
                          {"valid_for", pipeline::format_duration(m_rules.valid_for)},
                          {"allow_self", m_rules.allow_self}};
    if (!m_rules.approvers.empty()) {
      out["approvers"] = m_rules.approvers;
    }
    if (!m_rules.groups.empty()) {
      out["groups"] = m_rules.groups;
    }
    if (!m_rules.quorum.empty()) {
      out["quorum"] = m_rules.quorum;
    }
    return out;
  }

 private:
  // Everyone an `approvers` entry (a person or a group) names.
  std::vector<std::string> members(const std::string& entry) const {
    if (auto group = m_rules.groups.find(entry); group != m_rules.groups.end()) {
      return group->second;
    }
    return {entry};
  }

  // Whether `actor` may approve: anyone when `approvers` is empty, else the people it
  // names; members of a quorum group always may.
  bool eligible(const std::string& actor) const {
    const auto names = [&](const std::string& entry) {
      const auto people = members(entry);
      return std::find(people.begin(), people.end(), actor) != people.end();
    };
    return m_rules.approvers.empty() ||
           std::any_of(m_rules.approvers.begin(), m_rules.approvers.end(), names) ||
           std::any_of(m_rules.quorum.begin(), m_rules.quorum.end(),
                       [&](const auto& seat) { return names(seat.first); });
  }

  // One slot per quorum seat ("sre" twice for sre: 2), then general slots up to `min`.
  std::vector<std::pair<std::string, std::vector<std::string>>> slots(
      const std::vector<std::string>& approved) const {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (const auto& [group, count] : m_rules.quorum) {
      for (long long i = 0; i < count; ++i) {
        out.emplace_back(group, members(group));
      }
    }
    while (static_cast<long long>(out.size()) < m_rules.min) {
      out.emplace_back("", approved);
    }
    return out;
  }

  Verdict judge(const GateContext& context) const {
    const std::string id = context.candidate.id();
    if (context.approvals == nullptr) {
      return Verdict::make(Status::error, "approvals cannot be read: no history database");
    }
    auto decisions = context.approvals->decisions(context.stage, id);
    if (!decisions) {
      return Verdict::make(Status::error, decisions.error().message);
    }
    const auto now = context.timeline.now();
    // Each person's latest decision within valid_for counts.
    std::map<std::string, const Approval*> latest;
    nlohmann::json ignored = nlohmann::json::array();
    for (const auto& decision : *decisions) {
      if (now - decision.at > m_rules.valid_for) {
        ignored.push_back({{"actor", decision.actor}, {"why", "older than valid_for"},
                           {"at", util::format_utc(decision.at)}});
        continue;
      }
      // One person is one name: records written before text was refused unless UTF-8 may
      // hold the same name as raw bytes and, read back from a note, with U+FFFD.
      latest[util::valid_utf8(decision.actor)] = &decision;
    }
    std::vector<std::string> approved;
    nlohmann::json rejections = nlohmann::json::array();
    nlohmann::json counted = nlohmann::json::array();
    for (const auto& [actor, decision] : latest) {
      if (!decision->approve && !eligible(actor)) {
        // Who may not approve may not veto either: anyone could block a stage otherwise.
        ignored.push_back(
            {{"actor", actor}, {"why", "not among the approvers, whose rejections alone count"}});
      } else if (!decision->approve) {
        rejections.push_back({{"actor", actor}, {"reason", decision->reason},
                              {"at", util::format_utc(decision->at)}});
      } else if ((actor == util::valid_utf8(context.actor) ||
                  (!context.signer.empty() && actor == context.signer)) &&
                 !m_rules.allow_self) {
        ignored.push_back({{"actor", actor}, {"why", "the promoting actor's own approval"}});
      } else if (!eligible(actor)) {
        ignored.push_back({{"actor", actor}, {"why", "not among the approvers"}});
      } else {
        approved.push_back(actor);
        counted.push_back({{"actor", actor}, {"reason", decision->reason},
                           {"at", util::format_utc(decision->at)}});
      }
    }
    nlohmann::json details = {{"candidate", id},
                              {"stage", context.stage},
                              {"approvals", counted},
                              {"rejections", rejections},
                              {"ignored", ignored}};
    if (!rejections.empty()) {
      std::vector<std::string> who;
      for (const auto& rejection : rejections) {
        std::string line = rejection["actor"].get<std::string>();
        if (const auto reason = rejection["reason"].get<std::string>(); !reason.empty()) {
          line += " (" + reason + ")";
        }
        who.push_back(line);
      }
      return Verdict::make(Status::fail, "rejected by " + join(who), std::move(details));
    }
    const auto wanted = slots(approved);
    std::vector<std::vector<std::string>> eligible_people;
    for (const auto& slot : wanted) {
      eligible_people.push_back(slot.second);
    }
    const auto filled = Seats(std::move(eligible_people)).fill(approved);
    std::map<std::string, long long> missing;  // group ("" for anyone) -> seats left
    for (std::size_t slot = 0; slot < wanted.size(); ++slot) {
      if (filled[slot].empty()) {
        ++missing[wanted[slot].first];
      }
    }
    const std::string have = std::to_string(approved.size()) + " approval" +
                             (approved.size() == 1 ? "" : "s") +
                             (approved.empty() ? "" : " (" + join(approved) + ")");
    if (missing.empty()) {
      return Verdict::make(Status::pass, have, std::move(details));
    }
    // Named groups first, then the seats anyone eligible can fill.
    std::vector<std::string> needed;
    for (const auto& [group, count] : missing) {
      if (!group.empty()) {
        needed.push_back(std::to_string(count) + " more of " + group);
      }
    }
    if (const auto general = missing.find(""); general != missing.end()) {
      std::vector<std::string> candidates;
      for (const auto& entry : m_rules.approvers) {
        for (const auto& person : members(entry)) {
          if (std::find(approved.begin(), approved.end(), person) == approved.end() &&
              std::find(candidates.begin(), candidates.end(), person) == candidates.end() &&
              ((person != context.actor && person != context.signer) || m_rules.allow_self)) {
            candidates.push_back(person);
          }
        }
      }
      needed.push_back(std::to_string(general->second) + " more" +
                       (candidates.empty() ? "" : " of " + join(candidates)));
    }
    details["needed"] = needed;
    Verdict verdict = Verdict::make(
        Status::pending, have + "; needs " + join(needed, " and ") + " (promote approve --stage " +
                             context.stage + " --candidate " + context.candidate.short_id() + ")",
        std::move(details));
    verdict.retry_after = k_poll;
    return verdict;
  }

  Rules m_rules;
};

std::optional<std::vector<std::string>> people(const pipeline::ConfigNode& node,
                                               const std::string& what) {
  auto list = node.as_string_list(what);
  if (!list) {
    return std::nullopt;
  }
  for (const auto& name : *list) {
    if (name.empty()) {
      node.error("'" + what + "' must not hold an empty name");
      return std::nullopt;
    }
  }
  return list;
}

}  // namespace

std::unique_ptr<Gate> make_approval(const pipeline::ConfigNode& with) {
  const std::string what = "gate 'approval'";
  Rules rules;
  if (with.is_null()) {
    return std::make_unique<ApprovalGate>(std::move(rules));
  }
  const std::size_t reported = with.diagnostics().messages().size();
  if (!with.expect_map(what, {"approvers", "groups", "quorum", "min", "valid_for", "allow_self"})) {
    return nullptr;
  }
  bool ok = true;
  if (auto groups = with.get("groups")) {
    if (!groups->is_map()) {
      groups->error("'groups' must map group names to lists of people");
      ok = false;
    } else {
      for (const auto& [key, value] : groups->entries("groups")) {
        auto name = key.as_string("a group name");
        auto list = people(value, "groups." + (name ? *name : std::string("?")));
        if (!name || !list) {
          ok = false;
        } else if (list->empty()) {
          value.error("group '" + *name + "' has nobody in it");
          ok = false;
        } else {
          rules.groups[*name] = *list;
        }
      }
    }
  }
  if (auto approvers = with.get("approvers")) {
    if (auto list = people(*approvers, "approvers")) {
      rules.approvers = *list;
    } else {
      ok = false;
    }
  }
  long long seats = 0;
  if (auto quorum = with.get("quorum")) {
    if (!quorum->is_map()) {
      quorum->error("'quorum' must map group names to counts, e.g. {leads: 1, sre: 2}");
      ok = false;
    } else {
      for (const auto& [key, value] : quorum->entries("quorum")) {
        auto name = key.as_string("a group name");
        auto count = value.as_integer("quorum." + (name ? *name : std::string("?")));
        if (!name || !count) {
          ok = false;
          continue;
        }
        const auto group = rules.groups.find(*name);
        if (group == rules.groups.end()) {
          key.error("quorum names group '" + *name + "', which 'groups' does not define");
          ok = false;
        } else if (*count < 1 || *count > static_cast<long long>(group->second.size())) {
          value.error("quorum." + *name + " must be between 1 and " +
                      std::to_string(group->second.size()) + " (the people in the group), got " +
                      std::to_string(*count));
          ok = false;
        } else {
          rules.quorum[*name] = *count;
          seats += *count;
        }
      }
    }
  }
  rules.min = std::max<long long>(1, seats);
  if (auto min = with.get("min")) {
    if (auto count = min->as_integer("min"); !count) {
      ok = false;
    } else if (*count < 1) {
      min->error("'min' must be at least 1, got " + std::to_string(*count));
      ok = false;
    } else if (*count < seats) {
      min->error("'min' (" + std::to_string(*count) + ") is less than the quorum's " +
                 std::to_string(seats) + " seats");
      ok = false;
    } else {
      rules.min = *count;
    }
  }
  if (auto valid_for = with.get("valid_for")) {
    if (auto duration = valid_for->as_duration("valid_for"); !duration) {
      ok = false;
    } else if (duration->count() <= 0) {
      valid_for->error("'valid_for' must be more than 0s");
      ok = false;
    } else {
      rules.valid_for = *duration;
    }
  }
  if (auto allow_self = with.get("allow_self")) {
    if (auto value = allow_self->as_bool("allow_self")) {
      rules.allow_self = *value;
    } else {
      ok = false;
    }
  }
  if (ok && !rules.approvers.empty()) {
    std::set<std::string> everyone;
    for (const auto& entry : rules.approvers) {
      const auto group = rules.groups.find(entry);
      if (group == rules.groups.end()) {
        everyone.insert(entry);
      } else {
        everyone.insert(group->second.begin(), group->second.end());
      }
    }
    if (static_cast<long long>(everyone.size()) < rules.min) {
      with.get("approvers")->error("'approvers' names " + std::to_string(everyone.size()) +
                                   " people, fewer than the " + std::to_string(rules.min) +
                                   " approvals needed");
      ok = false;
    }
  }
  if (!ok || with.diagnostics().messages().size() != reported) {
    return nullptr;
  }
  return std::make_unique<ApprovalGate>(std::move(rules));
}

}  // namespace promote::gates
