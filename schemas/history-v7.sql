-- The promote history, migration 7 (PRAGMA user_version = 7), applied after
-- schemas/history-v6.sql: what each place of a target held before.
--
-- A stage's target may hold an image in several places (the files it names; for a Kustomize
-- overlay, its kustomization file), and these may disagree: one file at 1.4.1, another at
-- 1.4.0. The promotion makes them consistent. promotions gains
--   places  JSON array, in the order of the target's files: for each image the target held
--           at several values, each place with the value it held before,
--           [{"file": "k8s/prod/api.yaml", "image": "api", "value": "ghcr.io/acme/api:1.4.1"}]
--           '[]' when the places agreed (or the row was written before this migration)
-- so that a rollback can put each file back as it was.
--
-- The canonical record of the hash chain (schemas/history-v5.sql) holds "places" only when
-- it is not '[]': the rows written before this migration, and those whose places agreed,
-- keep their hashes, and `promote audit verify` checks old and migrated databases alike.
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT id, stage, places FROM promotions WHERE places <> '[]'"

ALTER TABLE promotions ADD COLUMN places TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(places));
