-- cents(amount): an amount in whole cents, as the speed layer keeps revenue (src/stream/aggregates.ts, centsOf).
{% macro cents(amount) %}round({{ amount }} * 100){% endmacro %}
