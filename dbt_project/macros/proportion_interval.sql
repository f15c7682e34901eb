{#
    The 95% Wilson score interval of a proportion `successes` / `trials` (null when there are no
    trials), bound 'low' or 'high'. Unlike the normal approximation it stays within [0, 1] and keeps
    its coverage for small samples and rates near 0 or 1 (Wilson 1927; Newcombe 1998, method 3).
#}
{% macro wilson_bound(successes, trials, bound) -%}
    {%- set z = 1.959963984540054 -%}
    if({{ trials }} = 0, null,
        (
            {{ successes }} / {{ trials }} + {{ z * z }} / (2 * {{ trials }})
            {{ '-' if bound == 'low' else '+' }} {{ z }} * sqrt(
                {{ successes }} / {{ trials }} * (1 - {{ successes }} / {{ trials }}) / {{ trials }}
                + {{ z * z }} / (4 * {{ trials }} * {{ trials }})
            )
        ) / (1 + {{ z * z }} / {{ trials }}))
{%- endmacro %}
