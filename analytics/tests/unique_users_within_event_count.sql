-- A day's distinct users of an event type are at least 1 and at most its events.
select activity_date, event_type, event_count, unique_users
from {{ ref('fct_daily_user_metrics') }}
where unique_users > event_count or unique_users < 1
