-- The promote history, migration 4 (PRAGMA user_version = 4), applied after
-- schemas/history-v3.sql: pull requests and rollbacks.
--
-- `promotions` is rebuilt (SQLite cannot change a CHECK in place) with every row kept:
--   outcome        also 'proposed': strategy pull-request opened or updated a pull/merge
--                  request that is not merged yet
--   pull_request   the web URL of that pull/merge request, '' for strategy commit
--   rollback_of    for `promote rollback`: the id of the promotion whose candidate it put
--                  back, else ''
--   gates_skipped  1 when `promote rollback --skip-gates` ran no gate (with a reason)
-- promote applies migrations with foreign keys off, so gate_verdicts keep their rows.
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT started_at, stage, outcome, rollback_of FROM promotions WHERE rollback_of != ''"

CREATE TABLE promotions_v4 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
  id TEXT NOT NULL UNIQUE,                -- the promotion id
  pipeline TEXT NOT NULL,                 -- metadata.name of the pipeline
  stage TEXT NOT NULL,                    -- the target stage
  from_stage TEXT NOT NULL,               -- the source stage, '' for a first stage
  candidate_id TEXT NOT NULL              -- sha256 of the candidate's canonical JSON
    CHECK (length(candidate_id) = 64 AND candidate_id NOT GLOB '*[^0-9a-f]*'),
  images TEXT NOT NULL CHECK (json_valid(images)),  -- {"api": "ghcr.io/acme/api:1.4.2"}
  outcome TEXT NOT NULL
    CHECK (outcome IN ('promoted', 'proposed', 'no-op', 'blocked', 'pending', 'error')),
  actor TEXT NOT NULL,                    -- who or what ran promote
  reason TEXT NOT NULL,                   -- free text, may be ''
  ci_run_url TEXT NOT NULL,               -- may be ''
  commit_id TEXT NOT NULL,                -- the commit that promoted, may be ''
  error TEXT NOT NULL,                    -- the error message when outcome is 'error', else ''
  started_at TEXT NOT NULL,               -- '2026-11-23T18:32:00.123Z'
  finished_at TEXT NOT NULL,
  break_glass INTEGER NOT NULL DEFAULT 0 CHECK (break_glass IN (0, 1)),
  pull_request TEXT NOT NULL DEFAULT '',
  rollback_of TEXT NOT NULL DEFAULT '',
  gates_skipped INTEGER NOT NULL DEFAULT 0 CHECK (gates_skipped IN (0, 1))
);

INSERT INTO promotions_v4 (seq, id, pipeline, stage, from_stage, candidate_id, images, outcome,
                           actor, reason, ci_run_url, commit_id, error, started_at, finished_at,
                           break_glass)
  SELECT seq, id, pipeline, stage, from_stage, candidate_id, images, outcome, actor, reason,
         ci_run_url, commit_id, error, started_at, finished_at, break_glass
  FROM promotions;

DROP TABLE promotions;

ALTER TABLE promotions_v4 RENAME TO promotions;

CREATE INDEX promotions_by_stage ON promotions (stage, started_at);

CREATE INDEX promotions_by_candidate ON promotions (candidate_id, stage);
