-- The promote history, migration 10 (PRAGMA user_version = 10), applied after
-- schemas/history-v9.sql: verification of the running system.
--
-- `promotions` is rebuilt (SQLite cannot change a CHECK in place) with every row, its seq
-- and the highest seq ever given out kept:
--   outcome        also 'verified': the verification gates of a stage (argocd, flux,
--                  kubernetes) first saw the release it holds running healthy there
--                  (`promote verify`, or the gates of a promotion out of that stage). Such a
--                  row names the stage in `stage`, '' in `from_stage`, and in `commit_id`
--                  the commit that brought the release into the stage; one per stage and
--                  commit. Its gates are the verification gates and their verdicts.
--   healthy_since  for a 'verified' row: since when the stage runs the release healthy
--                  (Argo CD's operation finishedAt, Flux's Ready lastTransitionTime, or when
--                  promote first saw the rollout complete; the latest of the gates'), the
--                  time a soak with `since: healthy` counts from; '' for every other row.
-- The canonical record (the hash chain) holds "healthy_since" only when it is not '', so the
-- rows written before keep their hashes.
-- promote applies migrations with foreign keys off, so gate_verdicts and promotion_images
-- keep their rows.
-- Example:
--   sqlite3 .promote/history.db \
--     "SELECT stage, commit_id, healthy_since FROM promotions WHERE outcome = 'verified'"

CREATE TABLE promotions_v10 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
  id TEXT NOT NULL UNIQUE,                -- the promotion id
  pipeline TEXT NOT NULL,                 -- metadata.name of the pipeline
  stage TEXT NOT NULL,                    -- the target stage (verified: the stage verified)
  from_stage TEXT NOT NULL,               -- the source stage, '' for a first stage
  candidate_id TEXT NOT NULL              -- sha256 of the candidate's canonical JSON
    CHECK (length(candidate_id) = 64 AND candidate_id NOT GLOB '*[^0-9a-f]*'),
  images TEXT NOT NULL CHECK (json_valid(images)),  -- {"api": "ghcr.io/acme/api:1.4.2"}
  outcome TEXT NOT NULL
    CHECK (outcome IN ('promoted', 'proposed', 'no-op', 'blocked', 'pending', 'error', 'verified')),
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
  gates_skipped INTEGER NOT NULL DEFAULT 0 CHECK (gates_skipped IN (0, 1)),
  ci_provider TEXT NOT NULL DEFAULT '',
  previous TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(previous)),
  files TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(files)),
  hash TEXT NOT NULL DEFAULT '',
  pipeline_file TEXT NOT NULL DEFAULT '',
  places TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(places)),
  charts TEXT NOT NULL DEFAULT '{}',
  carried TEXT NOT NULL DEFAULT '{}',
  healthy_since TEXT NOT NULL DEFAULT ''
);

INSERT INTO promotions_v10 (seq, id, pipeline, stage, from_stage, candidate_id, images, outcome,
                            actor, reason, ci_run_url, commit_id, error, started_at,
                            finished_at, break_glass, pull_request, rollback_of, gates_skipped,
                            ci_provider, previous, files, hash, pipeline_file, places, charts,
                            carried)
  SELECT seq, id, pipeline, stage, from_stage, candidate_id, images, outcome, actor, reason,
         ci_run_url, commit_id, error, started_at, finished_at, break_glass, pull_request,
         rollback_of, gates_skipped, ci_provider, previous, files, hash, pipeline_file, places,
         charts, carried
  FROM promotions ORDER BY seq;

-- The highest seq ever given out, which `audit verify` counts rows up to, stays what it was.
UPDATE sqlite_sequence
  SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'promotions'), 0))
  WHERE name = 'promotions_v10';

DROP TABLE promotions;

ALTER TABLE promotions_v10 RENAME TO promotions;

CREATE INDEX promotions_by_stage ON promotions (stage, started_at);

CREATE INDEX promotions_by_candidate ON promotions (candidate_id, stage);

CREATE INDEX promotions_by_started ON promotions (started_at);

CREATE INDEX promotions_by_actor ON promotions (actor, started_at);

CREATE INDEX promotions_by_outcome ON promotions (outcome, started_at);

CREATE INDEX promotions_by_pipeline ON promotions (pipeline, stage, candidate_id);

CREATE INDEX promotions_by_commit ON promotions (pipeline, stage, commit_id, outcome);
