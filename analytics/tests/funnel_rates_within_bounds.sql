-- Each funnel stage is within the one before it, so both rates lie in [0, 1].
select activity_date, viewers, carters, buyers, view_to_cart, cart_to_purchase
from {{ ref('fct_daily_funnel') }}
where carters > viewers
    or buyers > carters
    or view_to_cart < 0 or view_to_cart > 1
    or cart_to_purchase < 0 or cart_to_purchase > 1
