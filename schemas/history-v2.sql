-- The promote history, migration 2 (PRAGMA user_version = 2), applied after
-- schemas/history-v1.sql: approvals and rejections, and break-glass overrides.
--
-- `approvals` holds one row per `promote approve` or `promote reject`: who decided what on
-- which candidate for which stage, and why. Rows are only ever added; the approval gate reads
-- them. `promotions.break_glass` is 1 when the attempt overrode time windows with
-- `--break-glass` (its actor and reason are the promotion's own).
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT at, stage, decision, actor, reason FROM approvals ORDER BY seq DESC LIMIT 10"

CREATE TABLE approvals (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
  pipeline TEXT NOT NULL,                 -- metadata.name of the pipeline
  stage TEXT NOT NULL,                    -- the stage the decision is for
  candidate_id TEXT NOT NULL              -- the exact candidate decided on
    CHECK (length(candidate_id) = 64 AND candidate_id NOT GLOB '*[^0-9a-f]*'),
  decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  actor TEXT NOT NULL,                    -- who decided
  reason TEXT NOT NULL,                   -- free text, may be ''
  at TEXT NOT NULL                        -- '2026-11-23T18:32:00.123Z'
);

CREATE INDEX approvals_by_candidate ON approvals (candidate_id, stage);

ALTER TABLE promotions ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0
  CHECK (break_glass IN (0, 1));
