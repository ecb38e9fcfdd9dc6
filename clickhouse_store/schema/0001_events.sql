-- Time as Int64 microseconds since the epoch, UTC: DateTime64 does not exist on 18.16, and funnels
-- need order within a second. {events} is this table, or on a cluster each shard's local table.
CREATE TABLE IF NOT EXISTS {events} (
    app_id UUID,
    event_id UUID,
    name String,
    distinct_id String,
    user_id String,
    anonymous_id String,
    session_id String,
    timestamp_us Int64,
    received_at_us Int64,
    url String,
    host String,
    path String,
    referrer String,
    referrer_host String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_term String,
    utm_content String,
    device_type String,
    browser String,
    os String,
    country String,
    screen String,
    locale String,
    ip Nullable(String),
    user_agent String,
    source String,
    metadata String,
    -- Each top-level metadata key, and its value as text (a string as itself, anything else as its
    -- JSON; null values left out): reports group and filter by a key without the JSON functions
    -- 18.16 lacks, and get the text PostgreSQL's ->> gives.
    metadata_keys Array(String),
    metadata_values Array(String),
    seq UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(timestamp_us, 1000000), 'UTC'))
ORDER BY (app_id, timestamp_us, seq)
