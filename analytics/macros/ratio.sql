-- ratio(numerator, denominator): numerator / denominator as a fraction, null when the denominator is 0.
{% macro ratio(numerator, denominator) %}case when {{ denominator }} = 0 then null else {{ numerator }} * 1.0 / {{ denominator }} end{% endmacro %}
