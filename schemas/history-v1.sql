-- The promote history, schema version 1 (PRAGMA user_version = 1).
--
-- One row per promotion attempt in `promotions`, one row per gate verdict in `gate_verdicts`
-- (in the order the stage declares its gates), one row per file a gate read in `evidence`.
-- Times are ISO-8601 UTC text with milliseconds ('2026-11-23T18:32:00.123Z'), which sort as
-- text. `images`, `details` and `config` hold JSON text, readable with SQLite's json functions.
-- The database is in WAL mode; promote sets a busy timeout of 10 s and turns foreign keys on.
--
-- promote embeds this file at build time and applies it as migration 1; a test checks the
-- resulting sqlite_master. Example:
--   sqlite3 .promote/history.db \
--     "SELECT started_at, stage, outcome FROM promotions ORDER BY started_at DESC LIMIT 10"

CREATE TABLE promotions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
  id TEXT NOT NULL UNIQUE,                -- the promotion id
  pipeline TEXT NOT NULL,                 -- metadata.name of the pipeline
  stage TEXT NOT NULL,                    -- the target stage
  from_stage TEXT NOT NULL,               -- the source stage, '' for a first stage
  candidate_id TEXT NOT NULL              -- sha256 of the candidate's canonical JSON
    CHECK (length(candidate_id) = 64 AND candidate_id NOT GLOB '*[^0-9a-f]*'),
  images TEXT NOT NULL CHECK (json_valid(images)),  -- {"api": "ghcr.io/acme/api:1.4.2"}
  outcome TEXT NOT NULL
    CHECK (outcome IN ('promoted', 'no-op', 'blocked', 'pending', 'error')),
  actor TEXT NOT NULL,                    -- who or what ran promote
  reason TEXT NOT NULL,                   -- free text, may be ''
  ci_run_url TEXT NOT NULL,               -- may be ''
  commit_id TEXT NOT NULL,                -- the commit that promoted, may be ''
  error TEXT NOT NULL,                    -- the error message when outcome is 'error', else ''
  started_at TEXT NOT NULL,               -- '2026-11-23T18:32:00.123Z'
  finished_at TEXT NOT NULL
);

CREATE INDEX promotions_by_stage ON promotions (stage, started_at);

CREATE INDEX promotions_by_candidate ON promotions (candidate_id, stage);

CREATE TABLE gate_verdicts (
  promotion_id TEXT NOT NULL REFERENCES promotions (id),
  position INTEGER NOT NULL,              -- declaration order in the stage, from 0
  name TEXT NOT NULL,                     -- the gate's name in the stage
  use TEXT NOT NULL,                      -- the gate type: 'junit', 'soak', ...
  status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'pending', 'error')),
  summary TEXT NOT NULL,                  -- one line a person reads
  details TEXT NOT NULL CHECK (json_valid(details)),  -- what an auditor reads
  config TEXT NOT NULL CHECK (json_valid(config)),    -- the gate's validated configuration
  retry_after_seconds INTEGER,            -- when to try again, or NULL
  PRIMARY KEY (promotion_id, position)
);

CREATE TABLE evidence (
  promotion_id TEXT NOT NULL,
  gate_position INTEGER NOT NULL,         -- gate_verdicts.position of the gate that read it
  position INTEGER NOT NULL,              -- order in the gate's evidence, from 0
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,                   -- of the file's bytes when the gate read it
  PRIMARY KEY (promotion_id, gate_position, position),
  FOREIGN KEY (promotion_id, gate_position) REFERENCES gate_verdicts (promotion_id, position)
);
