-- One row per user: first and last event time, events, purchases and revenue over all of their activity.
{{ config(materialized='table') }}

/* Revenue is summed in whole cents and divided once, as in fct_daily_revenue. */
with users as (
    select
        user_id,
        min(event_time) as first_seen,
        max(event_time) as last_seen,
        count(*) as events,
        count(case when event_type = 'PURCHASE' then 1 end) as purchases,
        coalesce(sum(case when event_type = 'PURCHASE' then {{ cents('amount') }} end), 0) as revenue_cents
    from {{ ref('stg_user_activity') }}
    group by user_id
)

select
    user_id,
    first_seen,
    last_seen,
    events,
    purchases,
    revenue_cents / 100.0 as revenue
from users
