-- fct_daily_wiki_metrics has one row per (activity_date, wiki): any key found twice fails.
select activity_date, wiki, count(*) as rows_per_key
from {{ ref('fct_daily_wiki_metrics') }}
group by activity_date, wiki
having count(*) > 1
