-- Every (app, eventId) ever written, and the seq of its row: the writer's exactly-once check
-- (clickhouse_store.writer). Not sharded: one lookup sees every id, whichever shard holds the event.
CREATE TABLE IF NOT EXISTS {database}.event_ids (
    app_id UUID,
    event_id UUID,
    seq UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (app_id, event_id)
