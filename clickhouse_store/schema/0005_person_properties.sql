-- Each person's properties (persons.models.Person, copied by persons.mirror) as key and value arrays,
-- values as text as for metadata: what breakdown?by=person.<key> and funnel filters on person.<key>
-- read. A table of its own, not columns of person_ids: 18.16 cannot add a column IF NOT EXISTS, and
-- every schema statement must be safe to run twice. The newest version of a person wins (argMax).
CREATE TABLE IF NOT EXISTS {database}.person_properties (
    app_id UUID,
    person_key String,
    property_keys Array(String),
    property_values Array(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, person_key);
