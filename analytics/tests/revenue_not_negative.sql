-- Revenue, purchases and average order value are never negative, per day or per user.
select 'fct_daily_revenue' as failing_model, activity_date, revenue
from {{ ref('fct_daily_revenue') }}
where revenue < 0 or purchases < 0 or buyers > purchases or avg_order_value < 0
union all
select 'dim_users' as failing_model, null as activity_date, revenue
from {{ ref('dim_users') }}
where revenue < 0 or purchases < 0 or purchases > events
