{#-
  datediff on DataFusion (Amp): the number of `datepart` boundaries crossed from `first_date` to
  `second_date` (Postgres/Snowflake semantics, what dbt's own datediff tests expect). DataFusion has
  no `datediff()`, and subtracting two dates gives different types across DataFusion versions, so:

  * year / quarter / month: differences of `date_part(...)` (Int32 in DataFusion);
  * day / hour / minute / second / millisecond / microsecond: both sides as exact Int64
    microseconds since the epoch, floor-divided by the part's length (so the count of boundaries
    crossed, also before 1970), then subtracted;
  * week: day difference / 7, adjusted by day of week (dbt-postgres' formula).

  Both arguments are converted to naive microsecond timestamps (amp_timestamp_us), so string
  literals, DATEs and (UTC) TIMESTAMPs all work, including dates outside 1677-2262 such as
  '9999-12-31' sentinels (DataFusion's nanosecond TIMESTAMP and date_trunc overflow there).
-#}
{% macro amp__datediff(first_date, second_date, datepart) -%}
    {%- set part = amp_normalize_datepart(datepart) -%}
    {%- set a = amp_timestamp_us(first_date) -%}
    {%- set b = amp_timestamp_us(second_date) -%}
    {%- set micros = {
        'day': 86400000000,
        'hour': 3600000000,
        'minute': 60000000,
        'second': 1000000,
        'millisecond': 1000,
        'microsecond': 1,
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
    {%- elif part == 'microsecond' -%}
        (cast({{ b }} as bigint) - cast({{ a }} as bigint))
    {%- elif part in micros -%}
        ({{ amp_floor_div('cast(' ~ b ~ ' as bigint)', micros[part]) }} - {{ amp_floor_div('cast(' ~ a ~ ' as bigint)', micros[part]) }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff: unsupported datepart '" ~ datepart ~ "' on Amp (use year, quarter, month, week, day, hour, minute, second, millisecond or microsecond)") }}
    {%- endif -%}
{%- endmacro %}


{#- floor(x / n) for an integer SQL expression x and a positive integer n (SQL `/` truncates). -#}
{% macro amp_floor_div(x, n) -%}
    (({{ x }} - ((({{ x }}) % {{ n }}) + {{ n }}) % {{ n }}) / {{ n }})
{%- endmacro %}
