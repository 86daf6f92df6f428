{#-
  datediff on DataFusion (Amp): the number of `datepart` boundaries crossed from `first_date` to
  `second_date` (Postgres/Snowflake semantics, what dbt's own datediff tests expect). DataFusion has
  no `datediff()`, and subtracting two dates gives different types across DataFusion versions, so:

  * year / quarter / month: differences of `date_part(...)` (Int32 in DataFusion);
  * day / hour / minute / second / millisecond / microsecond: both sides truncated to the part and
    compared as exact Int64 nanoseconds since the epoch (`cast(timestamp as bigint)`);
  * week: day difference / 7, adjusted by day of week (dbt-postgres' formula).

  Both arguments are cast to TIMESTAMP, so string literals, DATEs and UTC TIMESTAMPs all work.
-#}
{% macro amp__datediff(first_date, second_date, datepart) -%}
    {%- set part = amp_normalize_datepart(datepart) -%}
    {%- set a = 'cast(' ~ first_date ~ ' as timestamp)' -%}
    {%- set b = 'cast(' ~ second_date ~ ' as timestamp)' -%}
    {%- set nanos = {
        'day': 86400000000000,
        'hour': 3600000000000,
        'minute': 60000000000,
        'second': 1000000000,
        'millisecond': 1000000,
        'microsecond': 1000,
    } -%}
    {%- if part == 'year' -%}
        (date_part('year', {{ b }}) - date_part('year', {{ a }}))
    {%- elif part == 'quarter' -%}
        ((date_part('year', {{ b }}) - date_part('year', {{ a }})) * 4 + date_part('quarter', {{ b }}) - date_part('quarter', {{ a }}))
    {%- elif part == 'month' -%}
        ((date_part('year', {{ b }}) - date_part('year', {{ a }})) * 12 + date_part('month', {{ b }}) - date_part('month', {{ a }}))
    {%- elif part == 'week' -%}
        ({{ amp__datediff(first_date, second_date, 'day') }} / 7 + case
            when date_part('dow', {{ a }}) <= date_part('dow', {{ b }}) then
                case when {{ a }} <= {{ b }} then 0 else -1 end
            else
                case when {{ a }} <= {{ b }} then 1 else 0 end
        end)
    {%- elif part in nanos -%}
        ((cast(date_trunc('{{ part }}', {{ b }}) as bigint) - cast(date_trunc('{{ part }}', {{ a }}) as bigint)) / {{ nanos[part] }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff: unsupported datepart '" ~ datepart ~ "' on Amp (use year, quarter, month, week, day, hour, minute, second, millisecond or microsecond)") }}
    {%- endif -%}
{%- endmacro %}
