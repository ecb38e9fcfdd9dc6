-- Which person each linked id belongs to (persons.models.PersonDistinctId, copied by persons.mirror):
-- the newest version of an (app, id) wins, read with argMax so a replaced row that no merge has
-- removed yet is never counted. Not sharded, like event_ids: reports join it GLOBAL from every shard.
CREATE TABLE IF NOT EXISTS {database}.person_ids (
    app_id UUID,
    distinct_id String,
    person_key String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, distinct_id);
