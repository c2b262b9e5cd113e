-- Wikimedia recent changes without canary events, one row per meta_id, with the UTC day of meta.dt.
{{ config(materialized='view') }}

/*
 * The rows the speed layer counts (src/stream/aggregates.ts, WikiKind): canary events (meta.domain
 * "canary", EventStreams' heartbeats) are dropped before they reach the log, and are dropped here too in
 * case a raw table holds any; a change is keyed by meta.id, which the stream job deduplicates on, so one
 * row per meta_id is kept (the first in log order); its day is the UTC day of meta.dt, the event time the
 * windows use. `type` is renamed change_type and meta_dt event_time; the other columns are as loaded.
 */
with ranked as (
    select
        meta_id,
        meta_dt,
        wiki,
        server_name,
        type as change_type,
        namespace,
        title,
        user_name,
        bot,
        minor,
        patrolled,
        length_old,
        length_new,
        revision_old,
        revision_new,
        log_type,
        log_action,
        row_number() over (partition by meta_id order by _log_partition, _offset) as copy_number
    from {{ source('raw', 'wikimedia_recentchange') }}
    where meta_domain is null or meta_domain <> 'canary'
)

select
    meta_id,
    meta_dt as event_time,
    cast(meta_dt as date) as activity_date,
    wiki,
    server_name,
    change_type,
    namespace,
    title,
    user_name,
    bot,
    minor,
    patrolled,
    length_old,
    length_new,
    revision_old,
    revision_new,
    log_type,
    log_action
from ranked
where copy_number = 1
