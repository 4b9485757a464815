#pragma once
// Anchors of a history database's hash chains, kept in git (schemas/history-v8.sql): the hash
// chains show a changed or removed row, but not the newest rows removed with sqlite_sequence
// lowered to match, which leave a valid, shorter chain. So every record promote writes to git
// carries an anchor: the database's id and, for each table, the seq and hash of its newest row.
// `promote audit verify` checks the database against every anchor of its id in the repository.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/error.hpp"

namespace promote::history {

/// The newest row of a table: seq 0 and hash "" when it is empty.
struct ChainHead {
  long long seq = 0;
  std::string hash;
};

/// A database's chain heads at one moment.
struct Anchor {
  std::string database;  ///< the database's id (meta.database_id), 32 hex digits
  ChainHead promotions;
  ChainHead approvals;
  ChainHead holds;
};

/// An anchor found in git, and where: "the note on 0123456789ab, line 3", "commit 0123456789ab".
struct PlacedAnchor {
  Anchor anchor;
  std::string where;
};

/// The trailer of a promotion's commit that holds the anchor of the history before the
/// promotion's own row (which names the commit, so cannot be in it).
inline constexpr const char* k_anchor_trailer = "Promote-History";

/// The anchor as a line of the git note refs/notes/promote: {"anchor": {...}}, compact, sorted
/// keys, no newline.
std::string note_line(const Anchor& anchor);

/// The anchor a note line's {"anchor": BODY} holds; fails (input) naming what is wrong.
Result<Anchor> anchor_from_json(const nlohmann::json& body);

/// The value of the Promote-History trailer: "ID promotions=SEQ:HASH approvals=SEQ:HASH
/// holds=SEQ:HASH" (HASH empty for seq 0).
std::string trailer_value(const Anchor& anchor);

/// The anchor a Promote-History trailer's value holds; fails (input) naming what is wrong.
Result<Anchor> anchor_from_trailer(std::string_view value);

}  // namespace promote::history
