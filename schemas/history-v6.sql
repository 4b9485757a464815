-- The promote history, migration 6 (PRAGMA user_version = 6), applied after
-- schemas/history-v5.sql: each pipeline has its own history.
--
-- Several pipeline files may share one database (two files in one directory share
-- .promote/history.db). A pipeline is its metadata.name (`pipeline`) together with its file:
--   pipeline_file  the pipeline file's path relative to the root of the git working tree
--                  that holds it, '/'-separated as git writes paths ('deploy/promote.yaml'),
--                  or its file name when no working tree holds it
-- in promotions, approvals and holds. Every read that decides something (soak, status,
-- approvals, holds, rollback, history sync) takes the rows of its own pipeline: its name and
-- its file. A row written before this migration has pipeline_file '' (which file wrote it
-- is not in the database): it stays readable and counts for every pipeline of its name.
--
-- The hash chain is still one per table for the whole database (schemas/history-v5.sql), so
-- that deleting the rows of one pipeline breaks it too. The canonical record holds
-- "pipeline_file" only when it is not '': the rows written before this migration keep their
-- hashes, and `promote audit verify` checks old and migrated databases alike.
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT pipeline, pipeline_file, count(*) FROM promotions GROUP BY 1, 2"

ALTER TABLE promotions ADD COLUMN pipeline_file TEXT NOT NULL DEFAULT '';

ALTER TABLE approvals ADD COLUMN pipeline_file TEXT NOT NULL DEFAULT '';

ALTER TABLE holds ADD COLUMN pipeline_file TEXT NOT NULL DEFAULT '';

CREATE INDEX promotions_by_pipeline ON promotions (pipeline, stage, candidate_id);

CREATE INDEX approvals_by_pipeline ON approvals (pipeline, stage, candidate_id);
