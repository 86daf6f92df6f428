{#-
  dateadd on DataFusion (Amp). DataFusion has no `dateadd()` function and cannot multiply an
  integer by an interval (`n * interval '1 day'` is a planning error), so the interval is built by
  casting the text `'<n> <unit>'` to INTERVAL, which works for column and literal amounts alike.
  `quarter` and `week` are not interval units DataFusion parses: they become 3 months / 7 days.
  Month arithmetic clamps to the month's end like Postgres ('2024-01-31' + 1 month = 2024-02-29).

  The start value is converted to a naive microsecond timestamp, `Timestamp(Microsecond, None)`
  (amp_timestamp_us), so that string literals ('2023-09-01'), DATEs and TIMESTAMPs all work, sub-day
  parts are not truncated away from a DATE, and dates outside 1677-2262 (the range of DataFusion's
  nanosecond TIMESTAMP), such as '9999-12-31' sentinels, work. The result is that naive timestamp,
  like Postgres' `date + interval`; a UTC timestamp such as a block `timestamp` keeps its UTC
  wall-clock value.
-#}
{% macro amp__dateadd(datepart, interval, from_date_or_timestamp) %}
    {%- set part = amp_normalize_datepart(datepart) -%}
    {%- set multiplier = 1 -%}
    {%- if part == 'quarter' -%}
        {%- set part, multiplier = 'month', 3 -%}
    {%- elif part == 'week' -%}
        {%- set part, multiplier = 'day', 7 -%}
    {%- endif -%}
    ({{ amp_timestamp_us(from_date_or_timestamp) }} + cast(({{ interval }}){% if multiplier != 1 %} * {{ multiplier }}{% endif %} || ' {{ part }}' as interval))
{%- endmacro %}


{#-
  A date, timestamp (naive or tz-aware: its wall-clock value) or ISO string as a naive
  microsecond timestamp, which spans years 1-9999 (DataFusion's TIMESTAMP is nanoseconds:
  1677-2262 only).
-#}
{% macro amp_timestamp_us(value) -%}
    arrow_cast({{ value }}, 'Timestamp(Microsecond, None)')
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
