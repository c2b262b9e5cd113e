-- human_edits is never negative, and bot edits, new pages and editors never outnumber the edits.
select activity_date, wiki, edits, bot_edits, human_edits, new_pages, unique_editors
from {{ ref('fct_daily_wiki_metrics') }}
where human_edits < 0
    or bot_edits > edits
    or new_pages > edits
    or unique_editors > edits
