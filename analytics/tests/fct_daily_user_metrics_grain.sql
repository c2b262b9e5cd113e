-- fct_daily_user_metrics has one row per (activity_date, event_type): any key found twice fails.
select activity_date, event_type, count(*) as rows_per_key
from {{ ref('fct_daily_user_metrics') }}
group by activity_date, event_type
having count(*) > 1
