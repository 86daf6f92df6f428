{#-
  Value helpers for Amp's binary and uint256 columns (PROTOCOL §8.4).
-#}

{#-
  evm_hex(column, binary=false): a '0x…' lowercase hex string for an address or hash column
  (FixedSizeBinary(20|32), via Amp's evm_decode_hex). Pass binary=true for variable-length
  Binary columns (log `data`, tx `input`), which evm_decode_hex does not accept.
-#}
{% macro evm_hex(column, binary=false) -%}
    {%- if binary -%}
        ('0x' || encode({{ column }}, 'hex'))
    {%- else -%}
        evm_decode_hex({{ column }})
    {%- endif -%}
{%- endmacro %}


{#-
  evm_address('0x…'): an address (40 hex digits) or hash (64 hex digits) literal as Amp binary,
  for comparisons with binary columns: `where address = {{ evm_address('0xA0b8…') }}`.
  Checked at compile time.
-#}
{% macro evm_address(hex_string) -%}
    {%- set value = hex_string | string | trim -%}
    {%- if not modules.re.match('^(0[xX])?([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$', value) -%}
        {{ exceptions.raise_compiler_error("evm_address: '" ~ value ~ "' is not a 20-byte address or 32-byte hash in hex (0x + 40 or 64 hex digits)") }}
    {%- endif -%}
    evm_encode_hex('{{ value | lower }}')
{%- endmacro %}


{#-
  column = <address> or column IN (<addresses>), for one '0x…' string or a non-empty list of them.
  An empty list is a compile error (`in ()` is not SQL, and "no contracts" is almost always a
  missing variable): pass address=none to the event macros for no contract filter.
-#}
{% macro evm_address_filter(column, addresses) -%}
    {%- if addresses is string -%}
        {{ column }} = {{ evm_address(addresses) }}
    {%- elif addresses is none or addresses | length == 0 -%}
        {{ exceptions.raise_compiler_error("evm_address_filter: no addresses given for " ~ column ~ " (an empty list would match nothing); pass one '0x…' address or a non-empty list, or address=none for no filter") }}
    {%- else -%}
        {{ column }} in ({% for a in addresses %}{{ evm_address(a) }}{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}


{#-
  token_amount(value, decimals): a raw integer token amount scaled down by `decimals`
  (Amp's shift_units(value, -decimals)), as an exact decimal string without trailing zeros:
  token_amount("ev['value']", 18) on '1500000000000000000' gives '1.5'. `decimals` is an integer
  or a SQL expression. as_double=true casts the result to DOUBLE (lossy) for arithmetic.

  The result is text, so `sum({{ token_amount(...) }})` fails ("sum does not support Utf8").
  To aggregate, sum the raw amounts as DECIMAL(76, 0) and scale the sum (exact):

    {{ token_amount("sum(try_cast(ev['value'] as decimal(76, 0)))", 18) }}

  (try_cast gives NULL, so sum skips, amounts over 76 digits such as max-uint256; a Decimal256
  sum past ~5.8e76 wraps around silently, so also bound the amounts you sum, e.g.
  `case when length(v) <= 60 then try_cast(v as decimal(76, 0)) end`), or sum DOUBLEs (lossy):
  `sum({{ token_amount("ev['value']", 18, as_double=true) }})`.
-#}
{% macro token_amount(value, decimals=18, as_double=false) -%}
    {%- if decimals is number -%}
        {%- set units = (0 - decimals) | string -%}
    {%- else -%}
        {%- set units = '-(' ~ decimals ~ ')' -%}
    {%- endif -%}
    {%- if as_double -%}
        cast(shift_units({{ value }}, {{ units }}) as double)
    {%- else -%}
        shift_units({{ value }}, {{ units }})
    {%- endif -%}
{%- endmacro %}
