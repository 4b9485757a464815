#pragma once
// Internal to engine/git (it includes <git2.h>): the objects one commit writes (blobs, trees,
// the commit), held in memory while they are made and then stored together. libgit2 writes each
// object as a file of its own, and looks the pack directory over again before each write of an
// object it does not have; a promotion into 500 overlays writes 2,000 objects, and creating a
// file is the costliest thing a commit does on most file systems.

#include <git2.h>

#include <string>

#include "engine/error.hpp"

namespace promote::git::detail {

/// While it lives, the objects `repository` writes are held in memory (reads see them, and every
/// object of the repository as before); `store` writes them into the repository's object
/// database. Destroyed without `store`, it drops them: nothing was written. Either way the
/// repository's own object database is given back to it.
class ObjectBatch {
 public:
  /// Fewer objects than this are stored as loose objects; this many or more, as one pack (with
  /// its index). git draws the same line for what it receives (transfer.unpackLimit): a pack
  /// per small commit would leave the repository with many small packs to search.
  static constexpr std::size_t k_pack_from = 100;

  /// Starts holding what `repository` writes; fails (git) when libgit2 cannot set that up.
  static Result<ObjectBatch> begin(git_repository* repository, const std::string& doing);

  ObjectBatch(ObjectBatch&& other) noexcept;
  ObjectBatch& operator=(ObjectBatch&&) = delete;
  ObjectBatch(const ObjectBatch&) = delete;
  ObjectBatch& operator=(const ObjectBatch&) = delete;
  ~ObjectBatch();

  /// What `store` wrote.
  struct Stored {
    std::size_t objects = 0;
    std::string pack;  ///< the pack's bytes; empty when the objects were written loose
  };

  /// Writes what was held into the repository's object database and gives the repository its
  /// database back. Fails (git) when an object or the pack cannot be written; objects written
  /// before the failure stay (unreachable, as git's own interrupted writes leave them).
  Result<Stored> store(const std::string& doing);

  struct Held;

 private:
  ObjectBatch(git_repository* repository, git_odb* own, Held* held);
  void give_back();

  git_repository* m_repository = nullptr;
  git_odb* m_own = nullptr;  ///< the repository's object database, a reference held
  Held* m_held = nullptr;    ///< owned by the database that is in the repository meanwhile
};

}  // namespace promote::git::detail
