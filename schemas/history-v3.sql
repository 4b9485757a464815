-- The promote history, migration 3 (PRAGMA user_version = 3), applied after
-- schemas/history-v2.sql: holds.
--
-- `holds` has one row per `promote hold` and `promote release`: who stopped or resumed
-- promotions into which stage of which pipeline, and why. Rows are only ever added; a
-- stage is held while its newest row is a 'hold'.
-- Example:
--   sqlite3 .promote/history.db "SELECT at, stage, action, actor, reason FROM holds ORDER BY seq"

CREATE TABLE holds (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
  pipeline TEXT NOT NULL,                 -- metadata.name of the pipeline
  stage TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('hold', 'release')),
  actor TEXT NOT NULL,                    -- who held or released it
  reason TEXT NOT NULL,                   -- why; required for a hold
  at TEXT NOT NULL                        -- '2026-11-23T18:32:00.123Z'
);

CREATE INDEX holds_by_stage ON holds (pipeline, stage, seq);
