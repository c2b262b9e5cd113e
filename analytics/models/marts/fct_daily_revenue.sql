-- Purchases, revenue, buyers and average order value per UTC day, for every day with activity.
{{ config(materialized='table') }}

/*
 * Revenue is summed in whole cents, each PURCHASE amount rounded to the cent once, as the speed layer
 * sums it (src/stream/aggregates.ts), then divided by 100: the daily figure reconciles to the cent and
 * does not depend on the order of a floating-point sum. A PURCHASE row is one order line (REES46 writes
 * one per item). A day without purchases has 0 purchases, 0 revenue and a null average.
 */
with daily as (
    select
        activity_date,
        count(case when event_type = 'PURCHASE' then 1 end) as purchases,
        coalesce(sum(case when event_type = 'PURCHASE' then {{ cents('amount') }} end), 0) as revenue_cents,
        count(distinct case when event_type = 'PURCHASE' then user_id end) as buyers
    from {{ ref('stg_user_activity') }}
    group by activity_date
)

select
    activity_date,
    purchases,
    revenue_cents / 100.0 as revenue,
    buyers,
    {{ ratio('revenue_cents / 100.0', 'purchases') }} as avg_order_value
from daily
