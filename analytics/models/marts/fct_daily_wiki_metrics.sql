-- Wikimedia edits per UTC day and wiki, with the speed layer's definitions, so the two layers compare.
{{ config(materialized='table') }}

/*
 * The definitions of src/stream/aggregates.ts (WikiKind), over the same rows (stg_wikimedia_changes: no
 * canary events, one row per meta.id) and the same event time (meta.dt):
 *   edits           changes of type 'edit' or 'new'
 *   bot_edits       edits whose bot flag is true
 *   human_edits     edits - bot_edits
 *   new_pages       changes of type 'new'
 *   bytes_delta     the sum over every change, not only edits, of coalesce(length.new, 0) - coalesce(length.old, 0)
 *                   (a change without `length`, e.g. a log event, adds 0)
 *   unique_editors  distinct non-null user over edits
 * Every (day, wiki) with a change has a row, even one without edits (only log events): the speed layer
 * keeps a window row for it too.
 */
with changes as (
    select
        activity_date,
        wiki,
        user_name,
        case when change_type = 'edit' or change_type = 'new' then 1 else 0 end as is_edit,
        case when bot then 1 else 0 end as is_bot,
        case when change_type = 'new' then 1 else 0 end as is_new_page,
        coalesce(length_new, 0) - coalesce(length_old, 0) as bytes_delta
    from {{ ref('stg_wikimedia_changes') }}
),

daily as (
    select
        activity_date,
        wiki,
        count(case when is_edit = 1 then 1 end) as edits,
        count(case when is_edit = 1 and is_bot = 1 then 1 end) as bot_edits,
        count(case when is_new_page = 1 then 1 end) as new_pages,
        cast(sum(bytes_delta) as bigint) as bytes_delta,
        count(distinct case when is_edit = 1 then user_name end) as unique_editors
    from changes
    group by activity_date, wiki
)

select
    activity_date,
    wiki,
    edits,
    bot_edits,
    edits - bot_edits as human_edits,
    new_pages,
    bytes_delta,
    unique_editors
from daily
