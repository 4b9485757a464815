#include "engine/git/object_batch.hpp"

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/git/libgit2.hpp"

namespace promote::git::detail {

/// The objects written meanwhile, in the order written, over the repository's own database.
struct ObjectBatch::Held {
  struct Object {
    git_object_t type = GIT_OBJECT_INVALID;
    std::string data;
  };
  git_odb* own = nullptr;
  std::map<std::string, Object, std::less<>> objects;  ///< by the id's 20 bytes
  std::vector<git_oid> order;
};

namespace {

using Held = ObjectBatch::Held;

/// The database backend libgit2 sees: its first member is what libgit2 hands back.
struct Backend {
  git_odb_backend base;
  Held* held;
};

Held& held_of(git_odb_backend* backend) {
  return *reinterpret_cast<Backend*>(backend)->held;
}

std::string_view key_of(const git_oid* id) {
  return {reinterpret_cast<const char*>(id->id), GIT_OID_RAWSZ};
}

const Held::Object* find(const Held& held, const git_oid* id) {
  const auto found = held.objects.find(key_of(id));
  return found == held.objects.end() ? nullptr : &found->second;
}

/// A copy of `data` in a buffer libgit2 frees (with a NUL after it, as libgit2's own backends
/// give it).
int hand_out(git_odb_backend* backend, std::string_view data, void** out, std::size_t* size) {
  auto* buffer = static_cast<char*>(git_odb_backend_data_alloc(backend, data.size() + 1));
  if (buffer == nullptr) {
    return -1;
  }
  std::memcpy(buffer, data.data(), data.size());
  buffer[data.size()] = '\0';
  *out = buffer;
  *size = data.size();
  return 0;
}

int read(void** data, std::size_t* size, git_object_t* type, git_odb_backend* backend,
         const git_oid* id) {
  const Held& held = held_of(backend);
  if (const Held::Object* object = find(held, id)) {
    *type = object->type;
    return hand_out(backend, object->data, data, size);
  }
  git_odb_object* raw = nullptr;
  if (const int code = git_odb_read(&raw, held.own, id); code < 0) {
    return code;
  }
  const std::unique_ptr<git_odb_object, void (*)(git_odb_object*)> object(raw, git_odb_object_free);
  *type = git_odb_object_type(object.get());
  return hand_out(backend,
                  {static_cast<const char*>(git_odb_object_data(object.get())),
                   git_odb_object_size(object.get())},
                  data, size);
}

/// The one object whose id starts with the `length` hex digits of `prefix`, here or in the
/// repository; GIT_EAMBIGUOUS when there are several.
int find_prefix(const Held& held, const git_oid* prefix, std::size_t length, git_oid* out) {
  const Held::Object* seen = nullptr;
  for (const auto& id : held.order) {
    if (git_oid_ncmp(&id, prefix, length) == 0) {
      if (seen != nullptr) {
        return GIT_EAMBIGUOUS;
      }
      seen = find(held, &id);
      *out = id;
    }
  }
  git_oid there;
  const int code = git_odb_exists_prefix(&there, held.own, prefix, length);
  if (code < 0 && code != GIT_ENOTFOUND) {
    return code;
  }
  if (code == 0 && seen != nullptr && !git_oid_equal(&there, out)) {
    return GIT_EAMBIGUOUS;
  }
  if (code == 0) {
    *out = there;
    return 0;
  }
  return seen != nullptr ? 0 : GIT_ENOTFOUND;
}

int read_prefix(git_oid* out, void** data, std::size_t* size, git_object_t* type,
                git_odb_backend* backend, const git_oid* prefix, std::size_t length) {
  if (const int code = find_prefix(held_of(backend), prefix, length, out); code < 0) {
    return code;
  }
  return read(data, size, type, backend, out);
}

int exists_prefix(git_oid* out, git_odb_backend* backend, const git_oid* prefix,
                  std::size_t length) {
  return find_prefix(held_of(backend), prefix, length, out);
}

int read_header(std::size_t* size, git_object_t* type, git_odb_backend* backend,
                const git_oid* id) {
  const Held& held = held_of(backend);
  if (const Held::Object* object = find(held, id)) {
    *size = object->data.size();
    *type = object->type;
    return 0;
  }
  return git_odb_read_header(size, type, held.own, id);
}

int exists(git_odb_backend* backend, const git_oid* id) {
  const Held& held = held_of(backend);
  return find(held, id) != nullptr || git_odb_exists(held.own, id) == 1 ? 1 : 0;
}

/// Only what is held counts as there when libgit2 asks before a write: an object the
/// repository has is held again and stored again (git freshens it, a pack holds a copy).
int freshen(git_odb_backend* backend, const git_oid* id) {
  return find(held_of(backend), id) != nullptr ? 0 : 1;
}

int write(git_odb_backend* backend, const git_oid* id, const void* data, std::size_t size,
          git_object_t type) {
  Held& held = held_of(backend);
  const auto [found, added] = held.objects.try_emplace(std::string(key_of(id)));
  if (added) {
    found->second = Held::Object{type, std::string(static_cast<const char*>(data), size)};
    held.order.push_back(*id);
  }
  return 0;
}

void free_backend(git_odb_backend* backend) {
  auto* own = reinterpret_cast<Backend*>(backend);
  delete own->held;
  delete own;
}

}  // namespace

Result<ObjectBatch> ObjectBatch::begin(git_repository* repository, const std::string& doing) {
  git_odb* own = nullptr;
  if (git_repository_odb(&own, repository) < 0) {
    return failure(doing);
  }
  git_odb* batch = nullptr;
  if (git_odb_new(&batch) < 0) {
    git_odb_free(own);
    return failure(doing);
  }
  auto* backend = new Backend{};
  git_odb_init_backend(&backend->base, GIT_ODB_BACKEND_VERSION);
  backend->held = new Held{};
  backend->held->own = own;
  backend->base.read = read;
  backend->base.read_prefix = read_prefix;
  backend->base.read_header = read_header;
  backend->base.write = write;
  backend->base.exists = exists;
  backend->base.exists_prefix = exists_prefix;
  backend->base.freshen = freshen;
  backend->base.free = free_backend;
  Held* held = backend->held;
  if (git_odb_add_backend(batch, &backend->base, 1) < 0) {
    free_backend(&backend->base);
    git_odb_free(batch);
    git_odb_free(own);
    return failure(doing);
  }
  // The repository takes a reference to the batch's database: it is freed when given back.
  const int code = git_repository_set_odb(repository, batch);
  git_odb_free(batch);
  if (code < 0) {
    git_odb_free(own);
    return failure(doing);
  }
  return ObjectBatch(repository, own, held);
}

ObjectBatch::ObjectBatch(git_repository* repository, git_odb* own, Held* held)
    : m_repository(repository), m_own(own), m_held(held) {}

ObjectBatch::ObjectBatch(ObjectBatch&& other) noexcept
    : m_repository(other.m_repository), m_own(other.m_own), m_held(other.m_held) {
  other.m_repository = nullptr;
  other.m_own = nullptr;
  other.m_held = nullptr;
}

ObjectBatch::~ObjectBatch() {
  give_back();
}

void ObjectBatch::give_back() {
  if (m_repository == nullptr) {
    return;
  }
  // Frees the batch's database, and with it what it held.
  (void)git_repository_set_odb(m_repository, m_own);
  git_odb_free(m_own);
  m_repository = nullptr;
  m_own = nullptr;
  m_held = nullptr;
}

Result<ObjectBatch::Stored> ObjectBatch::store(const std::string& doing) {
  if (m_repository == nullptr) {
    return problem(doing, "the objects were stored already");
  }
  const Held& held = *m_held;
  Stored stored;
  stored.objects = held.order.size();
  const auto failed = [&]() -> Result<Stored> {
    Error error = failure(doing);
    give_back();
    return error;
  };
  if (stored.objects < k_pack_from) {
    for (const auto& id : held.order) {
      const Held::Object& object = *find(held, &id);
      git_oid written;
      if (git_odb_write(&written, m_own, object.data.data(), object.data.size(), object.type) < 0) {
        return failed();
      }
    }
    give_back();
    return stored;
  }
  // One pack, made while the batch's database is in place (the pack builder reads the objects
  // through the repository), and indexed into the repository's own.
  git_packbuilder* raw_builder = nullptr;
  if (git_packbuilder_new(&raw_builder, m_repository) < 0) {
    return failed();
  }
  const std::unique_ptr<git_packbuilder, void (*)(git_packbuilder*)> builder(raw_builder,
                                                                             git_packbuilder_free);
  for (const auto& id : held.order) {
    if (git_packbuilder_insert(builder.get(), &id, nullptr) < 0) {
      return failed();
    }
  }
  git_buf pack{};
  if (git_packbuilder_write_buf(&pack, builder.get()) < 0) {
    return failed();
  }
  stored.pack.assign(pack.ptr, pack.size);
  git_buf_dispose(&pack);
  if (index_pack(m_own, stored.pack) < 0) {
    return failed();
  }
  give_back();
  return stored;
}

}  // namespace promote::git::detail
