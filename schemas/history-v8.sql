-- The promote history, migration 8 (PRAGMA user_version = 8), applied after
-- schemas/history-v7.sql: the database's own id, for the anchors of its hash chains in git.
--
-- The hash chains (schemas/history-v5.sql) show a changed or removed row, but not the newest
-- rows removed with sqlite_sequence lowered to match: what is left is a valid, shorter chain.
-- So each record promote writes to git also carries an anchor of this database: its id and,
-- for each table, the seq and hash of the newest row once the record is in it
--   note line  {"anchor": {"database": ID, "promotions": {"seq": 12, "hash": "…"},
--                          "approvals": {…}, "holds": {…}}}
--   trailer    Promote-History: ID promotions=11:HASH approvals=4:HASH holds=0:
-- (the trailer of a promotion's commit: the state before the promotion's own row, which names
-- the commit). `promote audit verify` checks the database against every anchor of its id that
-- the repository holds: each anchored row must be there and hold its anchored hash.
-- meta holds
--   database_id  32 hex digits, random, made once by this migration
-- Example:
--   sqlite3 .promote/history.db "SELECT value FROM meta WHERE key = 'database_id'"

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
