-- The view → cart → purchase funnel per UTC day: distinct users reaching each stage, and the stage rates.
{{ config(materialized='table') }}

/*
 * Stages are nested within a day: a viewer did VIEW; a carter did VIEW and ADD_TO_CART; a buyer did all
 * three. Counting each event type's users alone would not be a funnel: in REES46's multi-category sample
 * 146 users purchase on 2019-10-01 but only 92 add to cart (its purchases mostly have no cart row), which
 * would put cart_to_purchase above 1. So funnel buyers can be fewer than fct_daily_revenue's buyers,
 * who are every purchasing user. Rates are carters / viewers and buyers / carters, null for a 0 denominator.
 */
with user_days as (
    select
        activity_date,
        user_id,
        max(case when event_type = 'VIEW' then 1 else 0 end) as viewed,
        max(case when event_type = 'ADD_TO_CART' then 1 else 0 end) as carted,
        max(case when event_type = 'PURCHASE' then 1 else 0 end) as bought
    from {{ ref('stg_user_activity') }}
    group by activity_date, user_id
),

stages as (
    select
        activity_date,
        count(case when viewed = 1 then 1 end) as viewers,
        count(case when viewed = 1 and carted = 1 then 1 end) as carters,
        count(case when viewed = 1 and carted = 1 and bought = 1 then 1 end) as buyers
    from user_days
    group by activity_date
)

select
    activity_date,
    viewers,
    carters,
    buyers,
    {{ ratio('carters', 'viewers') }} as view_to_cart,
    {{ ratio('buyers', 'carters') }} as cart_to_purchase
from stages
