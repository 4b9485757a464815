-- The promote history, migration 9 (PRAGMA user_version = 9), applied after
-- schemas/history-v8.sql: a release is more than its images.
--
-- A candidate may carry Helm chart versions and configuration files besides its images
-- (README "Releases"). Each promotion row keeps them as JSON objects:
--   charts   pipeline chart name -> the version promoted   {"podinfo": "6.5.0"}
--   carried  carried file name -> sha256 of what is carried {"settings": "9f86d0…"}
-- Both are '{}' for a pipeline of images alone, and for every row written before this
-- migration; the canonical record (the hash chain) leaves them out when they are empty, so
-- those rows keep their hashes.
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT id, stage, json_extract(charts, '$.podinfo') FROM promotions WHERE charts <> '{}'"

ALTER TABLE promotions ADD COLUMN charts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE promotions ADD COLUMN carried TEXT NOT NULL DEFAULT '{}';
