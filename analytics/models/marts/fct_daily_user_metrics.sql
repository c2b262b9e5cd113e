-- The headline table: events and distinct users per UTC day and event_type, built incrementally by day.
{{ config(
    materialized='incremental',
    unique_key=['activity_date', 'event_type'],
    incremental_strategy=var('incremental_strategy', 'delete+insert'),
    tags=['headline']
) }}

/*
 * Incremental by day, exact and state-free. A run after the first rebuilds every day whose rows changed
 * since the last build, and only those: it counts the staged events per (day, event_type) and compares
 * with the table's event_count. Staging keeps one row per event_id and raw rows are only ever added (a
 * `pulse load --date` reload writes the same events again), so any new event of a day, a late one
 * included, raises a count of that day, and a day whose counts all match has exactly the events it was
 * built from. A day that differs anywhere is recomputed whole, every event_type of it; delete+insert then
 * replaces that day's rows. Nothing else is remembered between runs: no watermark, no load timestamp.
 * dbt-bigquery has no delete+insert: there, run with --vars '{incremental_strategy: merge}', which gives
 * the same table, since each recomputed day brings all of its (day, event_type) keys.
 */
with events as (
    select activity_date, event_type, user_id
    from {{ ref('stg_user_activity') }}
),

{% if is_incremental() %}
staged_counts as (
    select activity_date, event_type, count(*) as event_count
    from events
    group by activity_date, event_type
),

changed_days as (
    select distinct staged_counts.activity_date
    from staged_counts
    left join {{ this }} as built
        on built.activity_date = staged_counts.activity_date
        and built.event_type = staged_counts.event_type
    where built.event_count is null or built.event_count <> staged_counts.event_count
),
{% endif %}

daily as (
    select
        activity_date,
        event_type,
        count(*) as event_count,
        count(distinct user_id) as unique_users
    from events
    {% if is_incremental() %}
    where activity_date in (select activity_date from changed_days)
    {% endif %}
    group by activity_date, event_type
)

select activity_date, event_type, event_count, unique_users
from daily
