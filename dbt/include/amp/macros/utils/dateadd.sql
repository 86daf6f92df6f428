{#-
  dateadd on DataFusion (Amp). DataFusion has no `dateadd()` function and cannot multiply an
  integer by an interval (`n * interval '1 day'` is a planning error), so the interval is built by
  casting the text `'<n> <unit>'` to INTERVAL, which works for column and literal amounts alike.
  `quarter` and `week` are not interval units DataFusion parses: they become 3 months / 7 days.

  The start value is cast to TIMESTAMP first so that string literals ('2023-09-01'), DATEs and
  TIMESTAMPs all work and sub-day parts are not truncated away from a DATE (DataFusion's
  `date + interval '1 hour'` stays a DATE). The result is a naive TIMESTAMP(ns), like Postgres'
  `date + interval`; a UTC timestamp such as a block `timestamp` keeps its UTC wall-clock value.
-#}
{% macro amp__dateadd(datepart, interval, from_date_or_timestamp) %}
    {%- set part = amp_normalize_datepart(datepart) -%}
    {%- set multiplier = 1 -%}
    {%- if part == 'quarter' -%}
        {%- set part, multiplier = 'month', 3 -%}
    {%- elif part == 'week' -%}
        {%- set part, multiplier = 'day', 7 -%}
    {%- endif -%}
    (cast({{ from_date_or_timestamp }} as timestamp) + cast(({{ interval }}){% if multiplier != 1 %} * {{ multiplier }}{% endif %} || ' {{ part }}' as interval))
{%- endmacro %}


{#- 'Day', "'day'", 'days', 'dd' ... -> 'day' (shared by the date macros of this package) -#}
{% macro amp_normalize_datepart(datepart) -%}
    {%- set part = (datepart | string | lower | trim).replace("'", "").replace('"', '') -%}
    {%- set aliases = {
        'years': 'year', 'yy': 'year', 'yyyy': 'year',
        'quarters': 'quarter', 'qtr': 'quarter',
        'months': 'month', 'mm': 'month', 'mon': 'month',
        'weeks': 'week', 'wk': 'week',
        'days': 'day', 'dd': 'day',
        'hours': 'hour', 'hh': 'hour',
        'minutes': 'minute', 'mi': 'minute',
        'seconds': 'second', 'ss': 'second',
        'milliseconds': 'millisecond', 'ms': 'millisecond',
        'microseconds': 'microsecond', 'us': 'microsecond',
    } -%}
    {{- return(aliases.get(part, part)) -}}
{%- endmacro %}
