-- User activity, one row per event_id (the first copy in log order), with the UTC day of its event time.
{{ config(materialized='view') }}

/*
 * raw.user_activity holds every copy the log delivered: a producer's retry, or a row REES46 logged twice
 * (Pulse derives a CSV row's event_id from its text), is there once per copy, each at its own
 * (_log_partition, _offset). The copy kept is the first in log order, so the choice is deterministic; copies of
 * one event carry the same fields, so it changes no KPI. The columns keep the contract's types, which the
 * load already gave them. activity_date is the UTC day: event_time is a UTC timestamp without a zone
 * (docs/batch.md, "SQL dialects").
 */
with ranked as (
    select
        event_id,
        user_id,
        session_id,
        event_type,
        event_time,
        page,
        referrer,
        device,
        country,
        amount,
        currency,
        app_version,
        row_number() over (partition by event_id order by _log_partition, _offset) as copy_number
    from {{ source('raw', 'user_activity') }}
)

select
    event_id,
    user_id,
    session_id,
    event_type,
    event_time,
    cast(event_time as date) as activity_date,
    page,
    referrer,
    device,
    country,
    amount,
    currency,
    app_version
from ranked
where copy_number = 1
