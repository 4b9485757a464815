-- The promote history, migration 5 (PRAGMA user_version = 5), applied after
-- schemas/history-v4.sql: complete records and tamper evidence.
--
-- promotions gains
--   ci_provider    'github', 'gitlab' or '' (the CI system the attempt ran in)
--   previous       JSON object: image name -> the reference the target held before
--   files          JSON array: the files the promotion changed (or would have), sorted
--   hash           the hash chain, see below
-- approvals and holds gain `hash` too.
-- promotion_images holds one row per image of each promotion, for `promote history --image`.
--
-- The hash chain. In each of the tables promotions, approvals and holds, in `seq` order,
--   hash = sha256_hex(previous row's hash || canonical record)
-- where the first row's previous hash is '' and the canonical record is the row as compact
-- JSON with sorted keys (for a promotion with its gate verdicts and evidence, in order),
-- exactly the JSON line promote writes to the git note refs/notes/promote. `promote audit
-- verify` recomputes every hash and names the first row that does not match: an edited,
-- deleted, inserted or reordered row breaks the chain from there on. Rows written before
-- this migration are chained by promote when it applies it.
-- Example:
--   sqlite3 .promote/history.db "SELECT seq, id, substr(hash, 1, 12) FROM promotions"

ALTER TABLE promotions ADD COLUMN ci_provider TEXT NOT NULL DEFAULT '';

ALTER TABLE promotions ADD COLUMN previous TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(previous));

ALTER TABLE promotions ADD COLUMN files TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(files));

ALTER TABLE promotions ADD COLUMN hash TEXT NOT NULL DEFAULT '';

ALTER TABLE approvals ADD COLUMN hash TEXT NOT NULL DEFAULT '';

ALTER TABLE holds ADD COLUMN hash TEXT NOT NULL DEFAULT '';

CREATE TABLE promotion_images (
  promotion_id TEXT NOT NULL REFERENCES promotions (id),
  name TEXT NOT NULL,                     -- the pipeline's image name: 'api'
  reference TEXT NOT NULL,                -- 'ghcr.io/acme/api:1.4.2@sha256:...'
  repository TEXT NOT NULL,               -- the reference without tag and digest
  PRIMARY KEY (promotion_id, name)
);

CREATE INDEX promotion_images_by_name ON promotion_images (name);

CREATE INDEX promotion_images_by_repository ON promotion_images (repository);

-- promote fills promotion_images for the rows written before this migration when it applies it.

CREATE INDEX promotions_by_started ON promotions (started_at);

CREATE INDEX promotions_by_actor ON promotions (actor, started_at);

CREATE INDEX promotions_by_outcome ON promotions (outcome, started_at);
